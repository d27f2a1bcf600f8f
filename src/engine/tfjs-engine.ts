/**
 * The TensorFlow.js engine: truncates the model at the objective's layers and differentiates the
 * objective with respect to the input. Runs on whichever tfjs backend engine/backend.ts activated;
 * faster gradients plug in underneath through tfjs's gradient registry, not here.
 */
import { tf, type LayersModel } from '../tf.js';
import {
  NORMALIZATION_EPSILON,
  objectiveLayers,
  positionIndex,
  type Batch,
  type Engine,
  type EngineInfo,
  type GradientNormalization,
  type GradientResult,
  type LayerGradientResult,
  type LayerMaps,
  type Objective,
} from './engine.js';
import { sizeBoundLayer, withInputSize } from '../model/resize.js';
import { UsageError, unknownNameError } from '../errors.js';

export class TfjsEngine implements Engine {
  readonly info: EngineInfo;
  /** Models rebuilt for an input size, keyed `HxW`. */
  private readonly sized = new Map<string, Promise<LayersModel>>();
  /** Sub-models truncated at a set of layers, keyed `HxW|layer,layer`. */
  private readonly truncated = new Map<string, LayersModel>();
  /** For pre-activation objectives: the target layer, applied by hand after the sub-model that ends at its input. */
  private readonly preTargets = new Map<string, tf.layers.Layer>();
  private readonly preTargetsBySub = new Map<LayersModel, tf.layers.Layer>();

  constructor(
    private readonly model: LayersModel,
    info: Omit<EngineInfo, 'engine'>,
  ) {
    this.info = { engine: 'tfjs', ...info };
  }

  private async truncatedModel(x: Batch, layers: string[], pre = false): Promise<LayersModel> {
    // A fully convolutional model is rebuilt once for any size; a size-bound one (Dense, Flatten)
    // only runs at its own size, which withInputSize enforces with a clear error.
    const anySize = sizeBoundLayer(this.model) === undefined;
    const sizeKey = anySize ? 'any' : `${x.height}x${x.width}`;
    const key = `${sizeKey}|${layers.join(',')}${pre ? '|pre' : ''}`;
    const cached = this.truncated.get(key);
    if (cached) return cached;
    let sized = this.sized.get(sizeKey);
    if (!sized) {
      sized = anySize ? withInputSize(this.model, null, null) : withInputSize(this.model, x.height, x.width);
      this.sized.set(sizeKey, sized);
    }
    const base = await sized;
    const valid = base.layers.map((l) => l.name);
    const outputs = layers.map((name) => {
      if (!valid.includes(name)) throw unknownNameError('layer', name, valid);
      // Pre-activation: the sub-model stops at the target's input; objectiveTensor applies the target.
      if (pre) this.preTargets.set(key, base.getLayer(name));
      return (pre ? base.getLayer(name).input : base.getLayer(name).output) as tf.SymbolicTensor;
    });
    const sub = tf.model({ inputs: base.inputs, outputs });
    if (pre) this.preTargetsBySub.set(sub, this.preTargets.get(key)!);
    this.truncated.set(key, sub);
    return sub;
  }

  /** Objective per batch image, as a [n] tensor. Must run inside a tidy or gradient scope. */
  private objectiveTensor(sub: LayersModel, input: tf.Tensor4D, objective: Objective): tf.Tensor1D {
    // Models whose input has no channel axis (e.g. [batch, 28, 28] then a Reshape) take [n, h, w].
    const rank = sub.inputs[0]!.shape.length;
    const fed = rank === 3 ? tf.reshape(input, input.shape.slice(0, 3)) : input;
    const raw = sub.apply(fed, { training: false }) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(raw) ? raw : [raw];
    if (objective.kind === 'filter') {
      const target = this.preTargetsBySub.get(sub);
      const act = (target ? applyWithoutActivation(target, outs[0]!) : outs[0]) as tf.Tensor4D;
      const channels = act.shape[3];
      // A one-hot channel mask per image lets every image in the batch target its own filter.
      // (equal against a range rather than oneHot, which needs depth >= 2: final_conv1 has one channel)
      const mask = tf.cast(tf.equal(tf.range(0, channels, 1, 'int32').reshape([1, channels]), tf.tensor2d([...objective.filters], [objective.filters.length, 1], 'int32')), 'float32').reshape([-1, 1, 1, channels]);
      const picked = tf.sum(tf.mul(act, mask), 3) as tf.Tensor3D;
      let value: tf.Tensor1D;
      if (objective.position) {
        const at = positionIndex(objective.position, act.shape[1], act.shape[2]);
        // A one-hot spatial mask, as the ONNX graph builds it.
        const [h, w] = [act.shape[1], act.shape[2]];
        const spot = tf.buffer([1, h, w], 'float32');
        spot.set(1, 0, at.y, at.x);
        value = tf.sum(tf.mul(picked, spot.toTensor()), [1, 2]) as tf.Tensor1D;
      } else {
        value = tf.mean(picked, [1, 2]) as tf.Tensor1D;
      }
      return objective.negative ? (tf.neg(value) as tf.Tensor1D) : value;
    }
    if (objective.kind === 'region') return regionSum(outs[0]!, objective.box);
    if (objective.kind === 'weighted') {
      const act = outs[0]!;
      const w = objective.weights;
      if (act.size !== w.data.length) throw new UsageError(`weights for layer ${objective.layer}: ${w.data.length} values for its output of shape [${act.shape.join(', ')}]`);
      const axes = Array.from({ length: act.rank - 1 }, (_, i) => i + 1);
      return tf.sum(tf.mul(act, tf.tensor(w.data, act.shape)), axes) as tf.Tensor1D;
    }
    const layers = objectiveLayers(objective);
    let total: tf.Tensor1D | undefined;
    for (const term of objective.terms) {
      const act = outs[layers.indexOf(term.layer)]!;
      const reduced = term.reduce === 'l2' ? tf.square(act) : act;
      const value = tf.mul(tf.mean(reduced, [1, 2, 3]), term.weight) as tf.Tensor1D;
      total = total ? (tf.add(total, value) as tf.Tensor1D) : value;
    }
    return total!;
  }

  async evaluate(x: Batch, objective: Objective): Promise<Float32Array> {
    const sub = await this.truncatedModel(x, objectiveLayers(objective), objective.kind === 'filter' && objective.preActivation === true);
    const values = tf.tidy(() => this.objectiveTensor(sub, toTensor(x), objective));
    const data = (await values.data()) as Float32Array;
    values.dispose();
    return data;
  }

  async gradient(x: Batch, objective: Objective, normalize: GradientNormalization): Promise<GradientResult> {
    const sub = await this.truncatedModel(x, objectiveLayers(objective), objective.kind === 'filter' && objective.preActivation === true);
    let values: tf.Tensor1D | undefined;
    const gradient = tf.tidy(() => {
      const grad = tf.grad((input: tf.Tensor) => {
        const perImage = this.objectiveTensor(sub, input as tf.Tensor4D, objective);
        values = tf.keep(perImage.clone());
        // Images are independent (BatchNorm runs in inference mode), so the gradient of the sum
        // is each image's own gradient.
        return tf.sum(perImage);
      });
      return normalizeGradient(grad(toTensor(x)) as tf.Tensor4D, normalize);
    });
    const [valueData, gradData] = await Promise.all([values!.data(), gradient.data()]);
    values!.dispose();
    gradient.dispose();
    return { values: valueData as Float32Array, gradient: gradData as Float32Array };
  }

  async activations(x: Batch, layers: readonly string[]): Promise<LayerMaps[]> {
    const sub = await this.truncatedModel(x, [...layers]);
    const outs = tf.tidy(() => {
      const rank = sub.inputs[0]!.shape.length;
      const input = toTensor(x);
      const raw = sub.apply(rank === 3 ? tf.reshape(input, input.shape.slice(0, 3)) : input, { training: false }) as tf.Tensor | tf.Tensor[];
      return Array.isArray(raw) ? raw : [raw];
    });
    try {
      return await Promise.all(outs.map(async (t) => toMaps(t, (await t.data()) as Float32Array)));
    } finally {
      outs.forEach((t) => t.dispose());
    }
  }

  async layerGradient(x: Batch, objective: Objective, layer: string): Promise<LayerGradientResult> {
    const base = await this.sizedModel(x);
    const valid = base.layers.map((l) => l.name);
    if (!valid.includes(layer)) throw unknownNameError('layer', layer, valid);
    const targets = objectiveLayers(objective).map((name) => {
      if (!valid.includes(name)) throw unknownNameError('layer', name, valid);
      return base.getLayer(name).output as tf.SymbolicTensor;
    });
    const at = base.getLayer(layer).output as tf.SymbolicTensor;
    const order = topologicalPath(base, targets);
    const start = order.findIndex((n) => n.output.id === at.id);
    if (start < 0) throw new UsageError(`layer ${layer} does not feed ${objectiveLayers(objective).join(', ')}: its gradient there is undefined`);
    let values: tf.Tensor1D | undefined;
    const [activation, gradient] = tf.tidy(() => {
      const known = new Map<number, tf.Tensor>([[base.inputs[0]!.id, toTensor(x)]]);
      for (const node of order.slice(0, start + 1)) known.set(node.output.id, applyNode(node, known));
      const act = known.get(at.id)!;
      // Everything after the layer is re-run as a function of its activations; the skip tensors
      // computed before it are constants of that function.
      const grad = tf.grad((a: tf.Tensor) => {
        const local = new Map(known);
        local.set(at.id, a);
        for (const node of order.slice(start + 1)) local.set(node.output.id, applyNode(node, local));
        const perImage = this.objectiveFromOutputs(targets.map((t) => local.get(t.id)!), objective);
        values = tf.keep(perImage.clone());
        return tf.sum(perImage);
      });
      return [act, grad(act)];
    });
    try {
      const [v, a, g] = await Promise.all([values!.data(), activation.data(), gradient.data()]);
      return { values: v as Float32Array, activations: toMaps(activation, a as Float32Array), gradient: toMaps(gradient, g as Float32Array) };
    } finally {
      values!.dispose();
      activation.dispose();
      gradient.dispose();
    }
  }

  /** The model rebuilt for this batch's size (or for any size), shared with truncatedModel's cache. */
  private async sizedModel(x: Batch): Promise<LayersModel> {
    const anySize = sizeBoundLayer(this.model) === undefined;
    const sizeKey = anySize ? 'any' : `${x.height}x${x.width}`;
    let sized = this.sized.get(sizeKey);
    if (!sized) {
      sized = anySize ? withInputSize(this.model, null, null) : withInputSize(this.model, x.height, x.width);
      this.sized.set(sizeKey, sized);
    }
    return sized;
  }

  /** objectiveTensor's reductions on layer outputs computed elsewhere (the Grad-CAM re-run). */
  private objectiveFromOutputs(outs: tf.Tensor[], objective: Objective): tf.Tensor1D {
    const passthrough = { apply: () => outs, inputs: [{ shape: [null, null, null, null] }] } as unknown as LayersModel;
    return this.objectiveTensor(passthrough, outs[0] as tf.Tensor4D, objective);
  }

  dispose(): void {
    // Truncated models share their layers with the sized model they were cut from, so only the
    // sized copies this engine built own weights; the caller's model is left alone.
    const owned = [...this.sized.values()];
    this.truncated.clear();
    this.preTargets.clear();
    this.preTargetsBySub.clear();
    this.sized.clear();
    for (const pending of owned) {
      pending.then(
        (m) => {
          if (m !== this.model) m.weights.forEach((w) => w.dispose());
        },
        () => undefined, // a size that failed to build owns nothing
      );
    }
  }
}

/** A linear activation in the shape tfjs layers call (getClassName for the fused-kernel lookup, apply). */
const LINEAR = { getClassName: () => 'linear', apply: (x: tf.Tensor) => x };

/**
 * The layer's output before its fused activation. The layer keeps its weights and maths; only its
 * activation is swapped for the identity for this synchronous call, and always restored.
 */
function applyWithoutActivation(layer: tf.layers.Layer, input: tf.Tensor): tf.Tensor {
  const holder = layer as unknown as { activation?: unknown };
  if (holder.activation === undefined || holder.activation === null) return layer.apply(input) as tf.Tensor;
  const saved = holder.activation;
  holder.activation = LINEAR;
  try {
    return layer.apply(input) as tf.Tensor;
  } finally {
    holder.activation = saved;
  }
}

/** A 4-D [n, h, w, c] tensor's values as LayerMaps (a rank-2 output becomes n x 1 x 1 x c). */
function toMaps(t: tf.Tensor, data: Float32Array): LayerMaps {
  const s = t.shape;
  if (s.length === 4) return { data, n: s[0]!, height: s[1]!, width: s[2]!, channels: s[3]! };
  if (s.length === 2) return { data, n: s[0]!, height: 1, width: 1, channels: s[1]! };
  throw new UsageError(`feature maps of rank ${s.length} are not images (shape [${s.join(', ')}])`);
}

/** Sum over the box (all channels) per image: the region objective. */
function regionSum(act: tf.Tensor, box: readonly [number, number, number, number] | undefined): tf.Tensor1D {
  if (act.rank !== 4) throw new UsageError(`a region target needs an image-shaped layer; this one has shape [${act.shape.join(', ')}]`);
  if (!box) return tf.sum(act, [1, 2, 3]) as tf.Tensor1D;
  const [x0, y0, x1, y1] = box;
  const [, h, w] = act.shape as number[];
  if (!(x0 >= 0 && y0 >= 0 && x1 <= w! && y1 <= h! && x1 > x0 && y1 > y0)) {
    throw new UsageError(`region ${box.join(',')} is outside the ${w}x${h} output`);
  }
  return tf.sum(tf.slice(act, [0, y0, x0, 0], [-1, y1 - y0, x1 - x0, -1]), [1, 2, 3]) as tf.Tensor1D;
}

interface GraphNode {
  layer: tf.layers.Layer;
  inputs: tf.SymbolicTensor[];
  output: tf.SymbolicTensor;
}

/** Layer applications from the model's input to `targets`, in topological order. */
function topologicalPath(model: LayersModel, targets: tf.SymbolicTensor[]): GraphNode[] {
  const inputId = model.inputs[0]!.id;
  const order: GraphNode[] = [];
  const seen = new Set<number>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (t.id === inputId || seen.has(t.id)) return;
    seen.add(t.id);
    const layer = t.sourceLayer as tf.layers.Layer;
    const node = (layer as unknown as { inboundNodes: { inputTensors: tf.SymbolicTensor[] }[] }).inboundNodes[t.nodeIndex]!;
    node.inputTensors.forEach(visit);
    order.push({ layer, inputs: node.inputTensors, output: t });
  };
  targets.forEach(visit);
  return order;
}

function applyNode(node: GraphNode, known: Map<number, tf.Tensor>): tf.Tensor {
  const ins = node.inputs.map((t) => known.get(t.id)!);
  const out = node.layer.apply(ins.length === 1 ? ins[0]! : ins, { training: false }) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out[0]! : out;
}

function toTensor(x: Batch): tf.Tensor4D {
  return tf.tensor4d(x.data, [x.n, x.height, x.width, x.channels]);
}

/** Per-image normalisation: each image's gradient is scaled by its own statistic. */
export function normalizeGradient(g: tf.Tensor4D, normalize: GradientNormalization): tf.Tensor4D {
  if (normalize === 'none') return g;
  const axes = [1, 2, 3];
  let scale: tf.Tensor;
  if (normalize === 'rms') scale = tf.sqrt(tf.mean(tf.square(g), axes, true));
  else if (normalize === 'meanabs') scale = tf.mean(tf.abs(g), axes, true);
  else scale = tf.sqrt(tf.moments(g, axes, true).variance);
  return tf.div(g, tf.add(scale, NORMALIZATION_EPSILON));
}
