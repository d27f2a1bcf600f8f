/**
 * Model surgery: removes convolution filters and rewires everything downstream of them, so the
 * smaller network is an ordinary tfjs layers model (loadable wherever --model is).
 *
 * A removed filter's channel is followed through channel-wise layers (BatchNormalization, pooling,
 * upsampling, activations, dropout) and Concatenate (channel offsets) to the convolutions that read
 * it, which lose that input channel. What the channel carried after removal is a constant: the
 * activation of 0 at the convolution (ReLU(0) = 0), shifted by any BatchNorm on the way (BN(0) =
 * beta - gamma * mean / sqrt(var + eps)). The reading convolution adds that constant times the sum of
 * its kernel over the channel to its bias, which is exact wherever the kernel window lies inside the
 * image; at the border (zero padding) the folded bias is an approximation. A dead-on-data ReLU filter
 * followed by no BatchNorm carries exactly 0, so removing it changes nothing at all.
 * This is the same network `ablate` scores (the filter's output zeroed), so ablation predicts pruning.
 */
import { tf, type LayersModel } from '../tf.js';
import { UsageError, unknownNameError } from '../errors.js';

type Json = Record<string, unknown>;
interface LayerJson {
  class_name: string;
  name?: string;
  config: Json & { name: string };
  inbound_nodes: unknown[][][];
}

/** Per tensor: which original channels survive (in order), and the constant each removed one carries. */
interface ChannelMap {
  kept: number[];
  removed: Map<number, number>;
}

const CHANNELWISE = new Set(['MaxPooling2D', 'AveragePooling2D', 'UpSampling2D', 'Dropout', 'SpatialDropout2D', 'Activation', 'ReLU', 'GaussianNoise']);

const ACTIVATION_OF_ZERO: Record<string, (x: number) => number> = {
  linear: (x) => x,
  relu: (x) => Math.max(0, x),
  relu6: (x) => Math.min(6, Math.max(0, x)),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  elu: (x) => (x > 0 ? x : Math.exp(x) - 1),
  softplus: (x) => Math.log1p(Math.exp(x)),
};

function activationFn(layer: LayerJson): (x: number) => number {
  const name = (layer.config.activation as string | undefined) ?? (layer.class_name === 'ReLU' ? 'relu' : 'linear');
  const fn = ACTIVATION_OF_ZERO[name];
  if (!fn) throw new UsageError(`cannot prune through layer ${layer.config.name}: activation ${name} is not supported by pruning`);
  return fn;
}

export interface PruneReport {
  /** Filters removed per layer (original indices). */
  removed: Record<string, number[]>;
  paramsBefore: number;
  paramsAfter: number;
  /** Convolutions whose bias absorbed the constant of removed input channels (border pixels approximate). */
  folded: string[];
}

export function countParams(model: LayersModel): number {
  return model.getWeights().reduce((s, w) => s + w.size, 0);
}

/** The Conv2D layers whose filters may be removed: not the model's outputs. */
export function prunableLayers(model: LayersModel): string[] {
  const outputs = new Set(model.outputs.map((o) => o.sourceLayer.name));
  return model.layers.filter((l) => l.getClassName() === 'Conv2D' && !outputs.has(l.name)).map((l) => l.name);
}

function inboundNames(layer: LayerJson): string[] {
  const nodes = layer.inbound_nodes ?? [];
  if (nodes.length > 1) throw new UsageError(`cannot prune a model that calls layer ${layer.config.name} more than once (shared layers)`);
  return (nodes[0] ?? []).map((entry) => entry[0] as string);
}

export async function pruneFilters(model: LayersModel, remove: Record<string, readonly number[]>): Promise<{ model: LayersModel; report: PruneReport }> {
  const prunable = prunableLayers(model);
  for (const [layer, filters] of Object.entries(remove)) {
    if (!prunable.includes(layer)) throw unknownNameError('prunable layer', layer, prunable);
    const count = (model.getLayer(layer).getConfig() as { filters: number }).filters;
    for (const f of filters) if (!Number.isInteger(f) || f < 0 || f >= count) throw new UsageError(`filter ${f} is out of range for layer ${layer} (0-${count - 1})`);
    if (new Set(filters).size >= count) throw new UsageError(`cannot remove all ${count} filters of layer ${layer}`);
  }
  const json = model.toJSON(undefined, false) as unknown as { config: { layers: LayerJson[]; output_layers: unknown[] } };
  const layers = json.config.layers;
  const weights = new Map<string, { data: Float32Array; shape: number[] }[]>(
    model.layers.map((l) => [l.name, l.getWeights().map((w) => ({ data: w.dataSync() as Float32Array, shape: w.shape.slice() }))]),
  );
  const maps = new Map<string, ChannelMap>();
  const folded: string[] = [];
  const outputNames = new Set(model.outputs.map((o) => o.sourceLayer.name));
  const identity = (n: number): ChannelMap => ({ kept: Array.from({ length: n }, (_, i) => i), removed: new Map() });
  for (const layer of layers) {
    const name = layer.config.name;
    const cls = layer.class_name;
    const inputs = inboundNames(layer).map((n) => maps.get(n)!);
    const outChannels = () => (model.getLayer(name).outputShape as number[]).at(-1)!;
    if (cls === 'InputLayer') {
      maps.set(name, identity(outChannels()));
      continue;
    }
    const touched = inputs.some((m) => m.removed.size > 0);
    if (cls === 'Conv2D') {
      const w = weights.get(name)!;
      const kernel = w[0]!;
      const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
      let bias = w[1];
      const input = inputs[0]!;
      // Input side: drop removed channels, fold their constants into the bias.
      if (touched) {
        const sums = new Float64Array(cout);
        for (const [c, value] of input.removed) {
          if (value === 0) continue;
          for (let k = 0; k < kh * kw; k++) for (let o = 0; o < cout; o++) sums[o]! += value * kernel.data[(k * cin + c) * cout + o]!;
        }
        if (sums.some((s) => s !== 0)) {
          if (!bias) {
            bias = { data: new Float32Array(cout), shape: [cout] };
            layer.config.use_bias = true;
          } else bias = { data: Float32Array.from(bias.data), shape: [cout] };
          for (let o = 0; o < cout; o++) bias.data[o] = bias.data[o]! + sums[o]!;
          folded.push(name);
        }
        const keptIn = input.kept;
        const k2 = new Float32Array(kh * kw * keptIn.length * cout);
        for (let k = 0; k < kh * kw; k++) keptIn.forEach((c, ci) => k2.set(kernel.data.subarray((k * cin + c) * cout, (k * cin + c + 1) * cout), (k * keptIn.length + ci) * cout));
        w[0] = { data: k2, shape: [kh, kw, keptIn.length, cout] };
      }
      if (bias) w[1] = bias;
      // Output side.
      const drop = new Set(remove[name] ?? []);
      const map = identity(cout);
      if (drop.size) {
        const cur = w[0]!;
        const ci = cur.shape[2]!;
        const keep = map.kept.filter((o) => !drop.has(o));
        const k3 = new Float32Array(kh * kw * ci * keep.length);
        for (let k = 0; k < kh * kw * ci; k++) keep.forEach((o, oi) => (k3[k * keep.length + oi] = cur.data[k * cout + o]!));
        w[0] = { data: k3, shape: [kh, kw, ci, keep.length] };
        if (w[1]) w[1] = { data: Float32Array.from(keep.map((o) => w[1]!.data[o]!)), shape: [keep.length] };
        layer.config.filters = keep.length;
        const zero = activationFn(layer)(0);
        map.kept = keep;
        for (const o of drop) map.removed.set(o, zero);
      }
      maps.set(name, map);
      continue;
    }
    if (!touched) {
      maps.set(name, identity(outChannels()));
      continue;
    }
    if (outputNames.has(name)) throw new UsageError(`cannot remove filters that reach the model output through layer ${name}`);
    const input = inputs[0]!;
    if (cls === 'BatchNormalization') {
      const cfg = layer.config as { scale?: boolean; center?: boolean; epsilon?: number; axis?: number | number[] };
      const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
      if (axis !== undefined && axis !== -1 && axis !== 3) throw new UsageError(`cannot prune through BatchNormalization ${name} on axis ${axis}`);
      const w = weights.get(name)!;
      const scale = cfg.scale !== false;
      const center = cfg.center !== false;
      const gamma = scale ? w[0]!.data : undefined;
      const beta = center ? w[scale ? 1 : 0]!.data : undefined;
      const mean = w.at(-2)!.data;
      const variance = w.at(-1)!.data;
      const eps = cfg.epsilon ?? 1e-3;
      const removed = new Map<number, number>();
      // Channel c of this layer's input is original channel input.kept[c]; weights are indexed by position.
      const position = new Map<number, number>();
      const all = [...input.kept, ...input.removed.keys()].sort((a, b) => a - b);
      all.forEach((orig, i) => position.set(orig, i));
      for (const [orig, value] of input.removed) {
        const c = position.get(orig)!;
        removed.set(orig, ((gamma?.[c] ?? 1) * (value - mean[c]!)) / Math.sqrt(variance[c]! + eps) + (beta?.[c] ?? 0));
      }
      const keepPos = input.kept.map((o) => position.get(o)!);
      weights.set(name, w.map((t) => ({ data: Float32Array.from(keepPos.map((c) => t.data[c]!)), shape: [keepPos.length] })));
      maps.set(name, { kept: input.kept, removed });
      continue;
    }
    if (CHANNELWISE.has(cls)) {
      const fn = cls === 'Activation' || cls === 'ReLU' ? activationFn(layer) : (x: number) => x;
      maps.set(name, { kept: input.kept, removed: new Map([...input.removed].map(([c, v]) => [c, fn(v)])) });
      continue;
    }
    if (cls === 'Concatenate') {
      const axis = (layer.config.axis as number | undefined) ?? -1;
      if (axis !== -1 && axis !== 3) throw new UsageError(`cannot prune through Concatenate ${name} on axis ${axis}`);
      const kept: number[] = [];
      const removed = new Map<number, number>();
      let offset = 0;
      for (const m of inputs) {
        kept.push(...m.kept.map((c) => c + offset));
        for (const [c, v] of m.removed) removed.set(c + offset, v);
        offset += m.kept.length + m.removed.size;
      }
      maps.set(name, { kept, removed });
      continue;
    }
    throw new UsageError(`cannot prune through layer ${name} (${cls}): only channel-wise layers, Concatenate and Conv2D may follow a pruned filter`);
  }
  const pruned = await tf.models.modelFromJSON({ modelTopology: json } as unknown as tf.io.ModelJSON);
  for (const layer of pruned.layers) {
    const w = weights.get(layer.name);
    if (!w || w.length === 0) continue;
    const tensors = w.map((t) => tf.tensor(t.data, t.shape));
    layer.setWeights(tensors);
    tensors.forEach((t) => t.dispose());
  }
  const removed = Object.fromEntries(Object.entries(remove).filter(([, f]) => f.length).map(([l, f]) => [l, [...f].sort((a, b) => a - b)]));
  return { model: pruned, report: { removed, paramsBefore: countParams(model), paramsAfter: countParams(pruned), folded } };
}
