/**
 * The receptive field of a model's units, computed from its layers: how far an input pixel's
 * influence reaches. Tiled gradients (ascent/tiled-gradient.ts) are exact when every tile carries a
 * halo of at least the receptive field minus one: a core pixel's gradient sums over the units that see
 * it (within r - 1 of it, counting both sides of a unit's window), and each of those units must be
 * computed from the same inputs as in the whole image.
 */
import type { LayersModel, tf } from '../tf.js';
import { sizeMultiple } from './input-size.js';

export interface ReceptiveField {
  /** Width in input pixels of the window one unit sees (the largest over the layers asked for). */
  size: number;
  /** Input pixels between neighbouring units (the effective stride; below 1 after upsampling). */
  jump: number;
}

type Layer = tf.layers.Layer;

const pair = (v: unknown, fallback: number): [number, number] =>
  typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length >= 2 ? [Number(v[0]), Number(v[1])] : Array.isArray(v) && v.length === 1 ? [Number(v[0]), Number(v[0])] : [fallback, fallback];

/** How one layer maps (size, jump) of its input to its output, per axis (the larger of the two axes is kept). */
function step(layer: Layer, input: ReceptiveField): ReceptiveField {
  const cfg = layer.getConfig() as Record<string, unknown>;
  const cls = layer.getClassName();
  if ('kernelSize' in cfg || cls.includes('Pooling2D')) {
    const isPool = cls.includes('Pooling2D');
    if (cls.startsWith('Global')) return { size: Infinity, jump: input.jump };
    const kernel = Math.max(...pair(isPool ? cfg.poolSize : cfg.kernelSize, 1));
    const strides = Math.max(...pair(cfg.strides ?? (isPool ? cfg.poolSize : 1), 1));
    const dilation = Math.max(...pair(cfg.dilationRate ?? 1, 1));
    if (cls === 'Conv2DTranspose') return { size: input.size + (kernel - 1) * (input.jump / strides), jump: input.jump / strides };
    const effective = (kernel - 1) * dilation + 1;
    return { size: input.size + (effective - 1) * input.jump, jump: input.jump * strides };
  }
  if (cls === 'UpSampling2D') {
    const up = Math.max(...pair(cfg.size, 2));
    return { size: input.size, jump: input.jump / up };
  }
  if (cls === 'Dense' || cls === 'Flatten' || cls === 'Reshape') return { size: Infinity, jump: input.jump };
  return input; // elementwise, normalisation, activation, merge layers: the largest input's field
}

/** Receptive field of each layer's output, walking the graph in order; merges keep the largest field. */
export function receptiveFields(model: LayersModel): Map<string, ReceptiveField> {
  const fields = new Map<string, ReceptiveField>();
  for (const layer of model.layers) {
    const inbound = (layer as unknown as { inboundNodes: { inboundLayers: Layer[] }[] }).inboundNodes;
    const sources = inbound.flatMap((n) => n.inboundLayers ?? []).map((l) => fields.get(l.name)).filter((f): f is ReceptiveField => f !== undefined);
    const input = sources.length === 0 ? { size: 1, jump: 1 } : sources.reduce((a, b) => (b.size > a.size ? b : a));
    fields.set(layer.name, layer.getClassName() === 'InputLayer' ? { size: 1, jump: 1 } : step(layer, input));
  }
  return fields;
}

/** The largest receptive field over `layers` (default: every layer). */
export function receptiveField(model: LayersModel, layers?: readonly string[]): ReceptiveField {
  const fields = receptiveFields(model);
  const names = layers ?? [...fields.keys()];
  return names.map((n) => fields.get(n) ?? { size: Infinity, jump: 1 }).reduce((a, b) => (b.size > a.size ? b : a), { size: 1, jump: 1 });
}

/**
 * The halo that makes tiled gradients exact: receptive field - 1, rounded up to the model's pooling
 * factor (tiles start on its grid). Undefined when the field is unbounded (dense layers): tile nothing.
 */
export function exactHalo(model: LayersModel, layers?: readonly string[]): number | undefined {
  const { size } = receptiveField(model, layers);
  if (!Number.isFinite(size)) return undefined;
  const d = sizeMultiple(model);
  return Math.ceil(Math.ceil(size - 1) / d) * d;
}
