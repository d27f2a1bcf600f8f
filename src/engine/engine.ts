/**
 * The Engine interface: the only place gradients are computed. The ascent, dream and batch code call
 * these methods and nothing else, so faster engines (fast wasm gradients, an ONNX Runtime graph)
 * plug in without changes above this line.
 */

/** A batch of images in NHWC order, float32, as plain memory so any engine can take it. */
export interface Batch {
  data: Float32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
}

export type LayerReduce = 'mean' | 'l2';

export type Objective =
  /** Mean activation of one channel of `layer`, a different channel per batch image (filter visualization). */
  | {
      kind: 'filter';
      layer: string;
      filters: readonly number[];
      /**
       * Neuron objective: only the unit at this spatial position instead of the channel's mean, as a
       * fraction of the layer's height and width (0.5, 0.5 is the centre), so it means the same at any size.
       */
      position?: FilterPosition;
      /** Minimise instead of maximise: values and gradients are those of minus the objective. */
      negative?: boolean;
      /**
       * Target the layer before its fused activation (a Conv2D's ReLU): a unit that is zero on the start
       * image still has a gradient there. Lucid's rescue for dead starts, used for a recipe's first steps.
       */
      preActivation?: boolean;
    }
  /** Weighted sum over layers of mean (or mean squared) activation (DeepDream). */
  | { kind: 'layers'; terms: readonly { layer: string; weight: number; reduce: LayerReduce }[] }
  /**
   * Sum of `layer`'s output (all channels) over the box [x0, y0, x1, y1) of its pixels, or over the
   * whole map without a box: attribution targets of reconstruction networks (`output`, `region:`).
   */
  | { kind: 'region'; layer: string; box?: RegionBox }
  /**
   * Sum over `layer`'s output of `weights` times the activations, per image (weights in the layer's
   * shape for this batch, as `activations` returns it). Its input gradient is the vector-Jacobian product of `weights`: how a
   * penalty computed from a layer's activations outside the engine (the diversity term) is carried
   * back to the input.
   */
  | { kind: 'weighted'; layer: string; weights: LayerMaps };

/** A half-open pixel box [x0, y0, x1, y1) on a layer's map. */
export type RegionBox = readonly [number, number, number, number];

/** Feature maps of one layer for a batch, NHWC like Batch. */
export type LayerMaps = Batch;

/** What `layerGradient` returns: the objective, and a layer's activations with the objective's gradient there. */
export interface LayerGradientResult {
  values: Float32Array;
  activations: LayerMaps;
  /** d(objective_i)/d(activations_i), unnormalised, same layout as `activations`. */
  gradient: LayerMaps;
}

export interface FilterPosition {
  y: number;
  x: number;
}

/** The unit a position picks in a layer of `height` x `width`: floor(fraction * size), clamped. */
export function positionIndex(position: FilterPosition, height: number, width: number): { y: number; x: number } {
  const at = (f: number, n: number) => Math.min(Math.max(Math.floor(f * n), 0), n - 1);
  return { y: at(position.y, height), x: at(position.x, width) };
}

/** How each image's gradient is scaled before the step: the seed divides by its RMS. */
export type GradientNormalization = 'rms' | 'std' | 'meanabs' | 'none';
export const GRADIENT_NORMALIZATIONS: readonly GradientNormalization[] = Object.freeze(['rms', 'std', 'meanabs', 'none']);

/** The seed's epsilon: g / (sqrt(mean(g^2)) + 1e-5). Used for every normalisation. */
export const NORMALIZATION_EPSILON = 1e-5;

export interface GradientResult {
  /** Objective value per batch image, at the input (before any step). */
  values: Float32Array;
  /** d(objective_i)/d(x_i), normalised per image, same layout as the input. */
  gradient: Float32Array;
}

export interface EngineInfo {
  /** Engine family: `tfjs` or `onnx`. */
  engine: string;
  /** The backend that runs it, e.g. `wasm`, `cpu`, `tensorflow`, `onnxruntime-cpu`. */
  backend: string;
  /** Package that provides the backend. */
  provider: string;
}

export interface Engine {
  readonly info: EngineInfo;
  /** Objective values per batch image. */
  evaluate(x: Batch, objective: Objective): Promise<Float32Array>;
  /** Objective values and normalised input gradients per batch image. */
  gradient(x: Batch, objective: Objective, normalize: GradientNormalization): Promise<GradientResult>;
  /** Forward pass: the feature maps of each of `layers` (one LayerMaps per layer, in order). */
  activations(x: Batch, layers: readonly string[]): Promise<LayerMaps[]>;
  /**
   * The objective's gradient with respect to `layer`'s activations (not the input), unnormalised, and
   * those activations: what Grad-CAM weighs channels with. `layer` must feed the objective's layer.
   */
  layerGradient(x: Batch, objective: Objective, layer: string): Promise<LayerGradientResult>;
  /** Releases cached sub-models and tensors. */
  dispose(): void;
  /** Engine-specific figures for the manifest (e.g. ONNX compile times). */
  stats?(): unknown;
}

/**
 * How to split the cores: tfjs on wasm runs one thread per engine, so parallelism comes from one
 * worker per core; ONNX Runtime threads inside one engine, so it defaults to one worker with all
 * cores, and explicit workers share the cores between them.
 */
export function planParallelism(engine: string, requestedWorkers: number | undefined, cores: number): { workers: number; threads: number } {
  const workers = requestedWorkers ?? (engine === 'onnx' ? 1 : cores);
  return { workers, threads: Math.max(1, Math.floor(cores / workers)) };
}

export function objectiveLayers(objective: Objective): string[] {
  if (objective.kind === 'region' || objective.kind === 'weighted') return [objective.layer];
  return objective.kind === 'filter' ? [objective.layer] : [...new Set(objective.terms.map((t) => t.layer))];
}
