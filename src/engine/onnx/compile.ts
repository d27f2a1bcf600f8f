/**
 * Compiles a tfjs-layers model, cut at the objective's layers, into one ONNX graph that computes the
 * per-image objective values and the normalised input gradient. The backward pass is written out by
 * hand, layer by layer (see layers.ts), in reverse topological order, summing the gradients of
 * tensors that feed several layers (U-Net skip connections).
 *
 * Graph inputs: `input` float32 [N, H, W, C] (NHWC, like the engine's Batch; H and W symbolic unless a
 * layer on the path ties the model to one size), and `filters` int64 [N] for filter objectives.
 * Graph outputs: `values` float32 [N] and, unless compiled for values only, `gradient` [N, H, W, C].
 */
import type { tf, LayersModel } from '../../tf.js';
import { NORMALIZATION_EPSILON, objectiveLayers, type FilterPosition, type GradientNormalization, type Objective, type RegionBox } from '../engine.js';
import { UsageError, unknownNameError } from '../../errors.js';
import { OnnxUnsupportedError } from './errors.js';
import { LAYER_COMPILERS, SUPPORTED_LAYERS, type Emission, type Layer, type LayerInput, type Shape, type Value } from './layers/index.js';
import { Ops } from './ops.js';
import { OPSET, type ValueInfo } from './graph.js';

export interface CompileOptions {
  /** Per-image gradient normalisation baked into the graph (default 'rms', the seed's). */
  normalize?: GradientNormalization;
  /** 'gradient': values and gradient (default); 'values': the forward pass and objective only. */
  outputs?: 'gradient' | 'values';
  /**
   * Specialise for exactly this many images per run. With a filter objective on a convolution, the
   * target layer then computes (and differentiates) only each image's own channel instead of all of
   * them: the same result, a layer's worth of work less. Without it the graph takes any batch size.
   */
  batch?: number;
  /**
   * Differentiate with respect to this layer's activations instead of the input (Grad-CAM): the graph
   * then outputs `layer_activation` and `layer_gradient` (NHWC, unnormalised) in place of `gradient`.
   */
  wrt?: string;
}

export interface CompiledGraph {
  /** Serialised onnx.ModelProto. */
  modelProto: Uint8Array;
  inputNames: string[];
  outputNames: string[];
  /** The input's [height, width, channels]; null where any size runs. */
  inputShape: [number | null, number | null, number];
  /** Images per run when specialised (options.batch), else null. */
  batch: number | null;
  /** For filter objectives: the target layer's channel count (valid filters are 0..count-1). */
  filterCount?: number;
  /** Whether the filter objective's target layer computes only the picked channel. */
  picked: boolean;
  /** Layers compiled, in forward order (only those on the path from the input to the objective). */
  layers: string[];
  nodeCount: number;
  opset: number;
  /** Wall time to build and serialise the graph (the onnxruntime session's load comes on top). */
  buildMs: number;
}

/** Layers that tie the model to its built input size (their output shape is fixed). */
const SIZE_BOUND = new Set(['Flatten', 'Reshape']);
const NESTED = new Set(['Model', 'Functional', 'Sequential', 'LayersModel']);

export interface PathNode {
  key: string;
  layer: Layer;
  inputs: tf.SymbolicTensor[];
  output: tf.SymbolicTensor;
}

interface InboundNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

function inboundNode(layer: Layer, index: number): InboundNode {
  const nodes = (layer as unknown as { inboundNodes: InboundNode[] }).inboundNodes;
  const node = nodes[index];
  if (!node) throw new Error(`layer ${layer.name} has no inbound node ${index}`);
  return node;
}

function isInputLayer(layer: Layer): boolean {
  return layer.getClassName() === 'InputLayer';
}

/** The target layers' output tensors. */
function targetTensors(model: LayersModel, layers: readonly string[]): tf.SymbolicTensor[] {
  const valid = model.layers.map((l) => l.name);
  return layers.map((name) => {
    if (!valid.includes(name)) throw unknownNameError('layer', name, valid);
    const layer = model.getLayer(name);
    if (isInputLayer(layer)) throw new OnnxUnsupportedError(name, 'InputLayer', 'the objective must be on a layer after the input');
    const out = layer.output;
    if (Array.isArray(out)) throw new OnnxUnsupportedError(name, layer.getClassName(), 'layers with several outputs');
    return out;
  });
}

/** Nodes from the model's input to the targets, in topological order; checks what it can without weights. */
export function collectPath(model: LayersModel, targets: tf.SymbolicTensor[]): PathNode[] {
  if (model.inputs.length !== 1) {
    const first = model.inputs[1]!.sourceLayer;
    throw new OnnxUnsupportedError(first.name, first.getClassName(), 'models with several inputs');
  }
  const inputId = model.inputs[0]!.id;
  const order: PathNode[] = [];
  const seen = new Set<string>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (t.id === inputId) return;
    const layer = t.sourceLayer as Layer;
    const cls = layer.getClassName();
    if (isInputLayer(layer)) throw new OnnxUnsupportedError(layer.name, cls, 'an input other than the model\'s first');
    const key = `${layer.name}#${t.nodeIndex}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (NESTED.has(cls) || (layer as unknown as { layers?: unknown }).layers !== undefined) {
      throw new OnnxUnsupportedError(layer.name, cls, 'nested models are not inlined');
    }
    if (!(cls in LAYER_COMPILERS)) throw new OnnxUnsupportedError(layer.name, cls);
    if (t.tensorIndex !== 0) throw new OnnxUnsupportedError(layer.name, cls, 'layers with several outputs');
    const node = inboundNode(layer, t.nodeIndex);
    for (const input of node.inputTensors) visit(input);
    order.push({ key, layer, inputs: node.inputTensors, output: t });
  };
  for (const t of targets) visit(t);
  return order;
}

export function layerInput(node: PathNode): LayerInput {
  return {
    layer: node.layer,
    cfg: node.layer.getConfig() as Record<string, unknown>,
    inShapes: node.inputs.map((t) => t.shape as Shape),
    outShape: node.output.shape as Shape,
  };
}

/**
 * The first layer on the path from the input to `layers` (default: the model's outputs) that the
 * compiler cannot express, as the error it would throw; undefined when the whole path compiles.
 * Reads no weights: cheap enough for `--backend auto` to call before choosing an engine.
 */
export function findUnsupportedLayer(model: LayersModel, layers?: readonly string[]): OnnxUnsupportedError | undefined {
  try {
    const targets = layers ? targetTensors(model, layers) : model.outputs;
    for (const node of collectPath(model, targets)) LAYER_COMPILERS[node.layer.getClassName()]!.check(layerInput(node));
    checkInput(model);
    return undefined;
  } catch (err) {
    if (err instanceof OnnxUnsupportedError) return err;
    throw err;
  }
}

export function checkInput(model: LayersModel): void {
  const input = model.inputs[0]!;
  if (input.shape.length !== 4 && input.shape.length !== 3) {
    throw new OnnxUnsupportedError(input.sourceLayer.name, 'InputLayer', `an input of rank ${input.shape.length} (expects images)`);
  }
  if (input.dtype !== 'float32') throw new OnnxUnsupportedError(input.sourceLayer.name, 'InputLayer', `input dtype ${input.dtype}`);
  if (input.shape.length === 4 && input.shape[3] === null) {
    throw new OnnxUnsupportedError(input.sourceLayer.name, 'InputLayer', 'an input with an unknown channel count');
  }
}

/** Compiles the objective's values and (unless `outputs: 'values'`) normalised input gradient. */
export function compileGradientGraph(model: LayersModel, objective: Objective, options: CompileOptions = {}): CompiledGraph {
  const start = performance.now();
  const normalize = options.normalize ?? 'rms';
  const withGradient = (options.outputs ?? 'gradient') === 'gradient';
  const layerNames = objectiveLayers(objective);
  const targets = targetTensors(model, layerNames);
  const path = collectPath(model, targets);
  const wrt = options.wrt === undefined ? undefined : targetTensors(model, [options.wrt])[0]!;
  if (wrt && !path.some((n) => n.output.id === wrt.id)) {
    throw new UsageError(`layer ${options.wrt} does not feed ${layerNames.join(', ')}: its gradient there is undefined`);
  }
  const { inputs, inShape, channels, height, width } = checkPath(model, path);
  const modelInput = model.inputs[0]!;

  const g = new Ops();
  const X = g.reserve('input');
  const FILTERS = objective.kind === 'filter' ? g.reserve('filters') : undefined;
  const WEIGHTS = objective.kind === 'weighted' ? g.reserve('weights') : undefined;
  const VALUES = g.reserve('values');
  const GRADIENT = withGradient && !wrt ? g.reserve('gradient') : undefined;
  const LAYER_ACTIVATION = withGradient && wrt ? g.reserve('layer_activation') : undefined;
  const LAYER_GRADIENT = withGradient && wrt ? g.reserve('layer_gradient') : undefined;

  // The model's input in the stored layout: NCHW for images, [N, H, W] for channel-less inputs.
  const inputValue: Value =
    inShape.length === 4 ? { name: g.transpose(X, [0, 3, 1, 2]), rank: 4 } : { name: g.op('Squeeze', [X, g.ints([3])]), rank: 3 };
  const values = new Map<string | number, Value>([[modelInput.id, inputValue]]);
  const emissions: { node: PathNode; emission: Emission }[] = [];
  const batch = options.batch ?? null;
  if (batch !== null && (!Number.isInteger(batch) || batch < 1)) throw new Error(`batch must be a positive integer, got ${batch}`);
  let picked = false;
  path.forEach((node, i) => {
    const compiler = LAYER_COMPILERS[node.layer.getClassName()]!;
    const ins = node.inputs.map((t) => values.get(t.id)!);
    const ctx = { ...inputs[i]!, g, inputs: ins };
    // Pre-activation objective: the target layer is emitted with a linear activation, so the objective
    // and its gradient see the layer's output before its ReLU (layers without an activation are unchanged).
    if (objective.kind === 'filter' && objective.preActivation && node.output.id === targets[0]!.id) ctx.cfg = { ...ctx.cfg, activation: 'linear' };
    let emission: Emission | undefined;
    if (objective.kind === 'filter' && batch !== null && node.output.id === targets[0]!.id && compiler.emitPicked) {
      emission = compiler.emitPicked(ctx, FILTERS!, batch);
      picked = emission !== undefined;
    }
    emission ??= compiler.emit(ctx);
    values.set(node.output.id, emission.output);
    emissions.push({ node, emission });
  });

  // Objective values per image and the gradient seeds at the target tensors.
  const seeds = new Map<number, string[]>();
  const addGrad = (id: number, grad: string) => {
    const list = seeds.get(id);
    if (list) list.push(grad);
    else seeds.set(id, [grad]);
  };
  let total: string;
  if (objective.kind === 'filter') {
    const t = targets[0]!;
    const v = values.get(t.id)!;
    if (objective.position && v.rank !== 4) throw new OnnxUnsupportedError(objective.layer, 'neuron objective', 'a position on a layer without two spatial axes');
    const mask = objective.position ? positionMask(g, v.name, objective.position) : undefined;
    const { value, seed } = picked ? pickedObjective(g, v, withGradient, mask) : filterObjective(g, v, t.shape as Shape, FILTERS!, withGradient, mask);
    total = objective.negative ? g.op('Neg', [value]) : value;
    if (seed) addGrad(t.id, objective.negative ? g.op('Neg', [seed]) : seed);
  } else if (objective.kind === 'weighted') {
    const t = targets[0]!;
    const v = values.get(t.id)!;
    // The weights come as NHWC maps; the graph holds images as NCHW (and a flat layer as [N, C]).
    const w = v.rank === 4 ? g.transpose(WEIGHTS!, [0, 3, 1, 2]) : g.op('Reshape', [WEIGHTS!, g.shape(v.name)]);
    const axes = Array.from({ length: v.rank - 1 }, (_, i) => i + 1);
    total = g.op('ReduceSum', [g.op('Mul', [v.name, w]), g.ints(axes)], { keepdims: 0 });
    if (withGradient) addGrad(t.id, w);
  } else if (objective.kind === 'region') {
    const t = targets[0]!;
    const { value, seed } = regionObjective(g, values.get(t.id)!, objective.box, withGradient);
    total = value;
    if (seed) addGrad(t.id, seed);
  } else {
    const terms: string[] = [];
    objective.terms.forEach((term) => {
      const t = targets[layerNames.indexOf(term.layer)]!;
      const v = values.get(t.id)!;
      const axes = Array.from({ length: v.rank - 1 }, (_, i) => i + 1);
      const reduced = term.reduce === 'l2' ? g.op('Mul', [v.name, v.name]) : v.name;
      terms.push(g.mulScalar(g.op('ReduceMean', [reduced], { axes, keepdims: 0 }), term.weight));
      if (withGradient) {
        const inv = g.inverseCount(v.name, 1);
        // d mean(a)/da = 1/size; d mean(a^2)/da = 2a/size.
        const seed =
          term.reduce === 'l2'
            ? g.op('Mul', [v.name, g.mulScalar(inv, 2 * term.weight)])
            : g.op('Expand', [g.mulScalar(inv, term.weight), g.shape(v.name)]);
        addGrad(t.id, seed);
      }
    });
    total = g.sum(terms);
  }
  g.node('Identity', [total], {}, [VALUES]);

  if (withGradient) {
    for (let i = emissions.length - 1; i >= 0; i--) {
      const { node, emission } = emissions[i]!;
      // Every consumer of the wrt layer comes after it, so its gradient is complete here.
      if (wrt && node.output.id === wrt.id) break;
      const grads = seeds.get(node.output.id);
      if (!grads) continue;
      const inGrads = emission.backward(g.sum(grads));
      node.inputs.forEach((t, j) => {
        const gi = inGrads[j];
        if (gi !== undefined) addGrad(t.id, gi);
      });
    }
    if (wrt) {
      const act = values.get(wrt.id)!;
      const toKeras = (name: string) => (act.rank === 4 ? g.transpose(name, [0, 2, 3, 1]) : name);
      g.node('Identity', [toKeras(act.name)], {}, [LAYER_ACTIVATION!]);
      g.node('Identity', [toKeras(g.sum(seeds.get(wrt.id)!))], {}, [LAYER_GRADIENT!]);
    }
    const gin = wrt ? undefined : seeds.get(modelInput.id);
    let grad: string | undefined;
    if (wrt) {
      // layer_activation and layer_gradient replace the input gradient.
    } else if (!gin) {
      // The objective does not depend on the input (cannot happen for a connected model); zeros.
      grad = g.op('Mul', [X, g.scalar(0)]);
    } else {
      const summed = g.sum(gin);
      grad = inShape.length === 4 ? g.transpose(summed, [0, 2, 3, 1]) : g.unsqueeze(summed, [3]);
    }
    if (!wrt) normalizeInGraph(g, grad!, normalize, GRADIENT!);
  }

  const N = batch ?? 'batch';
  const graphInputs: ValueInfo[] = [{ name: X, type: 'float32', dims: [N, height ?? 'height', width ?? 'width', channels] }];
  if (FILTERS) graphInputs.push({ name: FILTERS, type: 'int64', dims: [N] });
  if (WEIGHTS) graphInputs.push({ name: WEIGHTS, type: 'float32', dims: [N, 'layer_height', 'layer_width', 'layer_channels'] });
  const graphOutputs: ValueInfo[] = [{ name: VALUES, type: 'float32', dims: [N] }];
  if (GRADIENT) graphOutputs.push({ name: GRADIENT, type: 'float32', dims: [N, height ?? 'height', width ?? 'width', channels] });
  if (LAYER_ACTIVATION) graphOutputs.push({ name: LAYER_ACTIVATION, type: 'float32' }, { name: LAYER_GRADIENT!, type: 'float32' });
  const described = objective.kind === 'weighted' ? { kind: objective.kind, layer: objective.layer } : objective;
  const doc = `objective ${JSON.stringify(described)}; normalize ${normalize}`;
  const modelProto = g.build(`${model.name}_${withGradient ? 'gradient' : 'values'}`, graphInputs, graphOutputs, doc);
  return {
    modelProto,
    inputNames: graphInputs.map((i) => i.name),
    outputNames: graphOutputs.map((o) => o.name),
    inputShape: [height, width, channels],
    batch,
    filterCount: objective.kind === 'filter' ? ((targets[0]!.shape[targets[0]!.shape.length - 1] as number | null) ?? undefined) : undefined,
    picked,
    layers: path.map((n) => n.layer.name),
    nodeCount: g.nodeCount,
    opset: OPSET,
    buildMs: performance.now() - start,
  };
}

/**
 * Mean of channel filters[n] of image n: a one-hot channel mask per image (so every image of the batch
 * has its own filter), summed over channels and averaged over the other axes. The seed gradient is
 * the mask over the number of averaged positions.
 */
function filterObjective(g: Ops, v: Value, kerasShape: Shape, filters: string, withGradient: boolean, mask?: string): { value: string; seed?: string } {
  const rank = v.rank;
  const channels = kerasShape[rank - 1];
  if (channels === null || channels === undefined) throw new Error('the target layer has an unknown channel count');
  const channelAxis = rank === 4 ? 1 : rank - 1;
  const range = g.ints(Array.from({ length: channels }, (_, i) => i), [1, channels], 'channels');
  const onehot2 = g.op('Cast', [g.op('Equal', [g.unsqueeze(filters, [1]), range])], { to: 1 }, 'onehot');
  // Broadcastable against the stored layout: [N, C, 1, 1] (NCHW) or [N, 1, ..., 1, C].
  const onehot =
    rank === 2 ? onehot2 : rank === 4 ? g.unsqueeze(onehot2, [2, 3]) : g.unsqueeze(onehot2, Array.from({ length: rank - 2 }, (_, i) => i + 1));
  const picked = g.op('ReduceSum', [g.op('Mul', [v.name, onehot]), g.ints([channelAxis])], { keepdims: 0 });
  const spatial = rank - 2; // axes left after batch and channel
  if (mask) {
    // Neuron objective: the picked channel at one position; the seed is the channel and position one-hot.
    const value = g.op('ReduceSum', [g.op('Mul', [picked, g.op('Squeeze', [mask, g.ints([0])])]), g.ints([1, 2])], { keepdims: 0 });
    return withGradient ? { value, seed: g.op('Expand', [g.op('Mul', [onehot, mask]), g.shape(v.name)], {}, 'seed') } : { value };
  }
  const value = spatial > 0 ? g.op('ReduceMean', [picked], { axes: Array.from({ length: spatial }, (_, i) => i + 1), keepdims: 0 }) : picked;
  if (!withGradient) return { value };
  let scaled = onehot;
  if (spatial > 0) {
    const inv = rank === 4 ? g.inverseCount(v.name, 2, 4) : g.inverseCount(v.name, 1, rank - 1);
    scaled = g.op('Mul', [onehot, inv]);
  }
  return { value, seed: g.op('Expand', [scaled, g.shape(v.name)], {}, 'seed') };
}

/**
 * Sum over channels and the box [x0, y0, x1, y1) of a rank-4 (NCHW) value, per image; the whole map
 * without a box. The seed is the box's 0/1 mask, built from the runtime height and width so the graph
 * keeps symbolic sizes (a box past the map's edge covers only what exists).
 */
function regionObjective(g: Ops, v: Value, box: RegionBox | undefined, withGradient: boolean): { value: string; seed?: string } {
  if (v.rank !== 4) throw new UsageError(`a region target needs an image-shaped layer (rank 4), not rank ${v.rank}`);
  const sumAll = (x: string) => g.op('ReduceSum', [x, g.ints([1, 2, 3])], { keepdims: 0 });
  if (!box) {
    const value = sumAll(v.name);
    return withGradient ? { value, seed: g.op('Expand', [g.scalar(1), g.shape(v.name)], {}, 'seed') } : { value };
  }
  const [x0, y0, x1, y1] = box;
  // 1 where lo <= index < hi along an axis of runtime length `dim`.
  const band = (dim: string, lo: number, hi: number) => {
    const idx = g.op('Range', [g.ints([0], [], 'zero'), g.op('Squeeze', [dim, g.ints([0])]), g.ints([1], [], 'one')]);
    const inside = g.op('And', [g.op('GreaterOrEqual', [idx, g.ints([lo], [])]), g.op('Less', [idx, g.ints([hi], [])])]);
    return g.op('Cast', [inside], { to: 1 });
  };
  const rows = g.unsqueeze(band(g.shape(v.name, 2, 3), y0, y1), [1]);
  const cols = g.unsqueeze(band(g.shape(v.name, 3, 4), x0, x1), [0]);
  const mask = g.op('Mul', [rows, cols], {}, 'region_mask');
  const value = sumAll(g.op('Mul', [v.name, mask]));
  return withGradient ? { value, seed: g.op('Expand', [mask, g.shape(v.name)], {}, 'seed') } : { value };
}

export interface ActivationsGraph {
  modelProto: Uint8Array;
  /** One output per layer (`act0`, `act1`, ...), NHWC for image-shaped layers. */
  outputNames: string[];
  inputShape: [number | null, number | null, number];
  buildMs: number;
}

/**
 * Every layer on the path checked by its compiler, and the graph input's shape: channels, and a fixed height and
 * width only when a layer on the path is tied to the built size (any size runs otherwise).
 */
function checkPath(model: LayersModel, path: readonly PathNode[]) {
  const inputs = path.map(layerInput);
  path.forEach((node, i) => LAYER_COMPILERS[node.layer.getClassName()]!.check(inputs[i]!));
  checkInput(model);
  const inShape = model.inputs[0]!.shape as Shape;
  const channels = inShape.length === 4 ? (inShape[3] as number) : 1;
  const sizeBound = path.some((n) => SIZE_BOUND.has(n.layer.getClassName()));
  return { inputs, inShape, channels, height: sizeBound ? (inShape[1] ?? null) : null, width: sizeBound ? (inShape[2] ?? null) : null };
}

/** The forward pass from the input to `layers`, each layer's activations a graph output. */
export function compileActivationsGraph(model: LayersModel, layers: readonly string[]): ActivationsGraph {
  const start = performance.now();
  const targets = targetTensors(model, layers);
  const path = collectPath(model, targets);
  const { inputs, inShape, channels, height, width } = checkPath(model, path);
  const modelInput = model.inputs[0]!;
  const g = new Ops();
  const X = g.reserve('input');
  const outputNames = layers.map((_, i) => g.reserve(`act${i}`));
  const inputValue: Value =
    inShape.length === 4 ? { name: g.transpose(X, [0, 3, 1, 2]), rank: 4 } : { name: g.op('Squeeze', [X, g.ints([3])]), rank: 3 };
  const values = new Map<string | number, Value>([[modelInput.id, inputValue]]);
  path.forEach((node, i) => {
    const ins = node.inputs.map((t) => values.get(t.id)!);
    values.set(node.output.id, LAYER_COMPILERS[node.layer.getClassName()]!.emit({ ...inputs[i]!, g, inputs: ins }).output);
  });
  targets.forEach((t, i) => {
    const v = values.get(t.id)!;
    g.node('Identity', [v.rank === 4 ? g.transpose(v.name, [0, 2, 3, 1]) : v.name], {}, [outputNames[i]!]);
  });
  const graphInputs: ValueInfo[] = [{ name: X, type: 'float32', dims: ['batch', height ?? 'height', width ?? 'width', channels] }];
  const modelProto = g.build(`${model.name}_activations`, graphInputs, outputNames.map((name) => ({ name, type: 'float32' as const })), `activations of ${layers.join(', ')}`);
  return { modelProto, outputNames, inputShape: [height, width, channels], buildMs: performance.now() - start };
}

/** The target already holds only each image's channel ([N, 1, H, W]): its mean, and 1/(H*W) as the seed. */
function pickedObjective(g: Ops, v: Value, withGradient: boolean, mask?: string): { value: string; seed?: string } {
  if (mask) {
    const value = g.op('ReduceSum', [g.op('Mul', [v.name, mask]), g.ints([1, 2, 3])], { keepdims: 0 });
    return withGradient ? { value, seed: g.op('Expand', [mask, g.shape(v.name)], {}, 'seed') } : { value };
  }
  const value = g.op('ReduceMean', [v.name], { axes: [1, 2, 3], keepdims: 0 });
  if (!withGradient) return { value };
  return { value, seed: g.op('Expand', [g.inverseCount(v.name, 2, 4), g.shape(v.name)], {}, 'seed') };
}

/**
 * A [1, 1, H, W] one-hot of the unit at `position` (fractions of the layer's height and width) in the
 * NCHW value `v`, for any H and W at run time: floor(fraction * size), clamped, as tfjs-engine does.
 */
function positionMask(g: Ops, v: string, position: FilterPosition): string {
  const hw = g.shape(v, 2, 4);
  const scaled = g.op('Mul', [g.op('Cast', [hw], { to: 1 }), g.floats('position', [position.y, position.x], [2])]);
  const index = g.op('Min', [g.op('Max', [g.op('Cast', [g.op('Floor', [scaled])], { to: 7 }), g.ints([0, 0])]), g.op('Sub', [hw, g.ints([1, 1])])]);
  const zero = g.ints([0], []);
  const one = g.ints([1], []);
  const axis = (k: number, over: string) => {
    const size = g.op('Gather', [hw, g.ints([k], [])], { axis: 0 });
    const at = g.op('Gather', [index, g.ints([k], [])], { axis: 0 });
    return g.op('Cast', [g.op('Equal', [g.op('Range', [zero, size, one]), at])], { to: 1 }, over);
  };
  const plane = g.op('Mul', [g.unsqueeze(axis(0, 'rows'), [1]), g.unsqueeze(axis(1, 'cols'), [0])]);
  return g.unsqueeze(plane, [0, 1]);
}

/** g / (stat + 1e-5) per image, stat the RMS, standard deviation or mean |g| over the image. */
function normalizeInGraph(g: Ops, grad: string, normalize: GradientNormalization, output: string): void {
  if (normalize === 'none') {
    g.node('Identity', [grad], {}, [output]);
    return;
  }
  const axes = [1, 2, 3];
  const mean = (x: string) => g.op('ReduceMean', [x], { axes, keepdims: 1 });
  let stat: string;
  if (normalize === 'rms') stat = g.op('Sqrt', [mean(g.op('Mul', [grad, grad]))]);
  else if (normalize === 'meanabs') stat = mean(g.op('Abs', [grad]));
  else {
    const centred = g.op('Sub', [grad, mean(grad)]);
    stat = g.op('Sqrt', [mean(g.op('Mul', [centred, centred]))]);
  }
  g.node('Div', [grad, g.op('Add', [stat, g.scalar(NORMALIZATION_EPSILON)])], {}, [output]);
}

export { SUPPORTED_LAYERS };
