/**
 * Which input sizes a model takes, derived from its layers. Each layer maps a spatial length to a new
 * one with Keras' own arithmetic ('same' convolutions and pools: ceil(n / stride); 'valid': floor((n -
 * k) / stride) + 1; upsampling, padding, cropping), one axis at a time. A size works when every length
 * stays positive, every merge (Concatenate, Add, ...) gets inputs of one length, and every layer that
 * flattens or reshapes the image gets the length the model was built with (a Dense head keeps its own
 * size). So a stack of strided 'same' convolutions takes any size, a U-Net takes multiples of 8, and a
 * 28x28 discriminator takes 28.
 */
import type { LayersModel } from '../tf.js';
import { tf } from '../tf.js';

export interface InputSize {
  height: number;
  width: number;
}

export type InputSizeCheck = { ok: true } | { ok: false; reason: string; nearest?: InputSize };

type Layer = tf.layers.Layer;
type Cfg = Record<string, unknown>;
/** A tensor's length along the simulated axis; 'flat' once it is no longer an image. */
type Len = number | 'flat';
/** `sizeBound`: the image went through a layer built for one size (Flatten, Reshape). */
type Result = { out: Len[]; sizeBound?: boolean } | { fail: string };

const AXIS_NAMES = ['height', 'width'] as const;
/** How far from the asked size the nearest working one is looked for. */
const SEARCH = 4096;

function pairOf(value: unknown, fallback: number): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return [value[0], value[1]];
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number') return [value[0], value[0]];
  return [fallback, fallback];
}

/** [before, after] padding or cropping along `axis` from a ZeroPadding2D / Cropping2D setting. */
function edges(value: unknown, axis: 0 | 1): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2) {
    const v = value[axis];
    if (typeof v === 'number') return [v, v];
    if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  }
  return [0, 0];
}

function spatial(shape: unknown, axis: 0 | 1): number | null | undefined {
  if (!Array.isArray(shape) || Array.isArray(shape[0]) || shape.length !== 4) return undefined;
  return shape[1 + axis] as number | null;
}

/** A model input of rank 3 is an image without a channel axis ([batch, height, width], then a Reshape). */
function isImageInput(shape: readonly unknown[]): boolean {
  return shape.length === 4 || shape.length === 3;
}

function inputSpatial(shape: readonly unknown[], axis: 0 | 1): number | null | undefined {
  return isImageInput(shape) ? (shape[1 + axis] as number | null) : undefined;
}

const WINDOWED = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'MaxPooling2D', 'AveragePooling2D']);
const MERGES = new Set(['Concatenate', 'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum']);
const FLATTENING = new Set(['Flatten', 'Reshape', 'LocallyConnected2D']);
const GLOBAL_POOLS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

interface Built {
  /** The length the layer's first input had when the model was built (null: any). */
  input: number | null | undefined;
  output: number | null | undefined;
}

/** One layer's output lengths along `axis` given its input lengths. */
function step(layer: Layer, ins: Len[], axis: 0 | 1, built: Built): Result {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Cfg;
  const who = `layer "${layer.name}" (${cls})`;
  const x = ins[0]!;
  if (MERGES.has(cls)) {
    const lens = ins.filter((l): l is number => l !== 'flat');
    const concatAxis = typeof cfg.axis === 'number' ? cfg.axis : -1;
    if (cls === 'Concatenate' && (concatAxis === 1 + axis || concatAxis === axis - 3) && lens.length === ins.length) return { out: [lens.reduce((a, b) => a + b, 0)] };
    if (lens.length > 0 && lens.some((l) => l !== lens[0])) return { fail: `${who} joins inputs of ${AXIS_NAMES[axis]} ${lens.join(' and ')}, which must be equal` };
    return { out: [lens.length === ins.length ? lens[0]! : 'flat'] };
  }
  if (x === 'flat') return { out: [built.output ?? 'flat'] };
  if (WINDOWED.has(cls) || cls === 'Conv2DTranspose') {
    const pool = cls.includes('Pooling');
    const k = pairOf(pool ? (cfg.poolSize ?? 2) : cfg.kernelSize, 1)[axis];
    const s = pairOf(cfg.strides ?? (pool ? (cfg.poolSize ?? 2) : 1), 1)[axis];
    const d = pairOf(cfg.dilationRate ?? 1, 1)[axis];
    const span = (k - 1) * d + 1;
    const same = cfg.padding === 'same';
    if (cls === 'Conv2DTranspose') return { out: [same ? x * s : x * s + Math.max(k - s, 0)] };
    if (!same && x < span) return { fail: `${who} needs ${AXIS_NAMES[axis]} >= ${span} (its window) but gets ${x}` };
    return { out: [same ? Math.ceil(x / s) : Math.floor((x - span) / s) + 1] };
  }
  if (cls === 'UpSampling2D') return { out: [x * pairOf(cfg.size ?? 2, 2)[axis]] };
  if (cls === 'ZeroPadding2D') {
    const [a, b] = edges(cfg.padding ?? 1, axis);
    return { out: [x + a + b] };
  }
  if (cls === 'Cropping2D') {
    const [a, b] = edges(cfg.cropping ?? 0, axis);
    if (x - a - b < 1) return { fail: `${who} crops ${a + b} of ${AXIS_NAMES[axis]} ${x}` };
    return { out: [x - a - b] };
  }
  if (GLOBAL_POOLS.has(cls)) return { out: [cfg.keepDims === true ? 1 : 'flat'] };
  if (FLATTENING.has(cls)) {
    // What follows was built for one length: the image must arrive at exactly that length.
    if (built.input !== x) return { fail: `${who} ties the model to the ${AXIS_NAMES[axis]} it was built with, ${built.input ?? 'unknown'}, not ${x}` };
    return { out: [built.output ?? 'flat'], sizeBound: true };
  }
  const builtIn = built.input;
  const builtOut = built.output;
  if (builtOut === undefined) return { out: ['flat'] };
  if (cls === 'Permute' && Array.isArray(cfg.dims)) {
    // dims are 1-based over (height, width, channels): where does this axis's length come from?
    const from = (cfg.dims as number[])[axis]! - 1;
    if (from === axis) return { out: [x] };
    return { fail: `${who} moves image axes; sizes are checked only at the size it was built for` };
  }
  // Element-wise layers (activations, BatchNorm, Dense on each pixel, dropout, ...) keep the length.
  if (builtIn === builtOut || builtIn === null || builtIn === undefined || builtOut === null) return { out: [x] };
  return builtIn === x ? { out: [builtOut] } : { fail: `${who} changes the size in a way known to work only at its built ${AXIS_NAMES[axis]} ${builtIn}, but gets ${x}` };
}

/** Runs `model` along `axis` from the given input lengths: the output lengths, or why it fails. */
function simulate(model: LayersModel, inputs: Len[], axis: 0 | 1): { outputs: Len[]; sizeBound: boolean } | { fail: string } {
  const known = new Map<number, Len>();
  model.inputs.forEach((t, i) => known.set(t.id, inputs[i]!));
  let sizeBound = false;
  // model.layers is in graph order, but a layer shared between graphs has nodes of other graphs:
  // only the nodes whose inputs this graph produced are followed.
  let progress = true;
  while (progress) {
    progress = false;
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      for (const node of layer.inboundNodes) {
        if (node.outputTensors.every((t) => known.has(t.id))) continue;
        const ins = node.inputTensors.map((t) => known.get(t.id));
        if (ins.some((l) => l === undefined)) continue;
        const first = node.inputTensors[0];
        const fromInput = first !== undefined && model.inputs.some((t) => t.id === first.id);
        const built = { input: fromInput ? inputSpatial(first.shape, axis) : spatial(first?.shape, axis), output: spatial(node.outputTensors[0]?.shape, axis) };
        const nested = (layer as unknown as { layers?: unknown }).layers !== undefined;
        const r = nested ? nestedStep(layer as unknown as LayersModel, ins as Len[], axis) : step(layer, ins as Len[], axis, built);
        if ('fail' in r) return r;
        if (r.sizeBound) sizeBound = true;
        node.outputTensors.forEach((t, i) => known.set(t.id, r.out[i] ?? r.out[0]!));
        progress = true;
      }
    }
  }
  const outputs = model.outputs.map((t) => known.get(t.id) ?? 'flat');
  for (const l of outputs) if (typeof l === 'number' && l < 1) return { fail: `the output's ${AXIS_NAMES[axis]} would be ${l}` };
  return { outputs, sizeBound };
}

function nestedStep(inner: LayersModel, ins: Len[], axis: 0 | 1): Result {
  const r = simulate(inner, ins, axis);
  return 'fail' in r ? r : { out: r.outputs, sizeBound: r.sizeBound };
}

/** Whether length n works along `axis` for every image input of the model. */
function axisWorks(model: LayersModel, axis: 0 | 1, n: number): string | undefined {
  if (!Number.isInteger(n) || n < 1) return `the ${AXIS_NAMES[axis]} must be a whole number >= 1`;
  const inputs = model.inputs.map((t) => (isImageInput(t.shape) ? n : 'flat') as Len);
  const r = simulate(model, inputs, axis);
  if ('fail' in r) return r.fail;
  // A model with a Flatten or Reshape head takes the size it was built for, not every size that
  // happens to reach its head at the right length.
  const own = inputSpatial(model.inputs[0]!.shape, axis);
  if (r.sizeBound && own !== n) return `it takes its own ${AXIS_NAMES[axis]} ${own} only (a Flatten or Reshape layer ties it to that size)`;
  return undefined;
}

/** The working length nearest to n along `axis` (the larger on a tie), or undefined when none is near. */
function nearestAlong(model: LayersModel, axis: 0 | 1, n: number): number | undefined {
  const start = Math.max(1, Math.round(n));
  for (let d = 0; d <= SEARCH; d++) {
    if (axisWorks(model, axis, start + d) === undefined) return start + d;
    if (d > 0 && start - d >= 1 && axisWorks(model, axis, start - d) === undefined) return start - d;
  }
  return undefined;
}

/**
 * Whether the model takes images of this size and, if not, why (naming the layer) and the nearest
 * size that works. The one size rule for every caller (filters, dream, engines).
 */
export function checkInputSize(model: LayersModel, size: number | InputSize): InputSizeCheck {
  const { height, width } = typeof size === 'number' ? { height: size, width: size } : size;
  const reasons = [axisWorks(model, 0, height), axisWorks(model, 1, width)];
  if (reasons.every((r) => r === undefined)) return { ok: true };
  const h = reasons[0] === undefined ? height : nearestAlong(model, 0, height);
  const w = reasons[1] === undefined ? width : nearestAlong(model, 1, width);
  // A square failure reads once: "side" for "height" and "width".
  const same = reasons[0] !== undefined && reasons[1] !== undefined && reasons[1].replaceAll('width', 'height') === reasons[0];
  const reason = same ? reasons[0]!.replaceAll('height', 'side') : reasons.filter((r): r is string => r !== undefined).join('; ');
  return h !== undefined && w !== undefined ? { ok: false, reason, nearest: { height: h, width: w } } : { ok: false, reason };
}

/** "size 100x100 cannot be used with this model: <why> (try 104x104)": the one message for a refused size. */
export function inputSizeMessage(size: number | InputSize, check: Exclude<InputSizeCheck, { ok: true }>): string {
  const text = (s: number | InputSize) => (typeof s === 'number' ? String(s) : s.height === s.width && typeof size === 'number' ? String(s.height) : `${s.height}x${s.width}`);
  const hint = check.nearest ? ` (try ${text(check.nearest)})` : '';
  return `size ${text(size)} cannot be used with this model: ${check.reason}${hint}`;
}

/**
 * The smallest m such that the multiples of m from the first working one on all work (checked over
 * eight multiples on both axes): what a tiler or a padder rounds image sides to. 1 when any size from
 * the smallest working one works, as for a stack of 'same' strided convolutions; 8 for the U-Net.
 * For a model that takes one size only there is no such m, and it returns 1 (each size is checked).
 */
export function sizeMultiple(model: LayersModel): number {
  for (let m = 1; m <= 256; m++) {
    let all = true;
    for (const axis of [0, 1] as const) {
      const first = nearestMultipleAtLeast(model, axis, m);
      if (first === undefined) {
        all = false;
        break;
      }
      for (let j = 1; j < 8 && all; j++) all = axisWorks(model, axis, first + j * m) === undefined;
    }
    if (all) return m;
  }
  return 1;
}

function nearestMultipleAtLeast(model: LayersModel, axis: 0 | 1, m: number): number | undefined {
  for (let n = m; n <= 64 * m; n += m) if (axisWorks(model, axis, n) === undefined) return n;
  return undefined;
}
