/**
 * DeepDream: gradient ascent on a layer objective, starting from an image, over octaves from the
 * smallest scale up. Between octaves the detail lost by downscaling is re-injected so the base image
 * keeps its sharpness (as in Keras' DeepDream example). Each step jitters the image with a random
 * roll and takes the gradient tile by tile, so any size runs in bounded memory without seams.
 */
import type { Engine, GradientNormalization, Objective } from '../engine/engine.js';
import { invalidParameterError } from '../errors.js';
import { keyedRng } from '../random.js';
import { crop, resize, roll, type Plane } from './resample.js';
import { normalizeInPlace, tiledGradient, tiledValue, type TileOptions } from './tiled-gradient.js';

/**
 * The dream's epsilon in g / (stat + epsilon), as the TensorFlow DeepDream tutorial's std + 1e-8. The
 * raw gradient of a mean objective shrinks with the image's area, so the seed's 1e-5 cut the effective
 * step on large images (0.92 of nominal at 1024^2, 0.75 at 2048^2); 1e-8 keeps it within 0.1% up to
 * 4096^2 wherever the gradient is not essentially zero. Filter visualisation keeps the seed's formula.
 */
export const DREAM_EPSILON = 1e-8;

export interface DreamOptions {
  objective: Objective;
  octaves: number;
  octaveScale: number;
  steps: number;
  step: number;
  normalize: GradientNormalization;
  /** Maximum random roll in pixels per step (0 disables). */
  jitter: number;
  tile: number;
  /** Context around each tile; exact at the model's receptive field - 1 (model/receptive-field.ts exactHalo). */
  halo: number;
  /** The model's pooling factor: gradient inputs are padded to multiples of it. */
  divisor: number;
  seed: number;
  /** Keep a copy of the image every this many steps (for animations); 0 or absent keeps none. */
  recordEvery?: number;
}

export interface DreamProgress {
  octave: number;
  octaves: number;
  step: number;
  steps: number;
  objective: number;
}

export interface OctaveRecord {
  octave: number;
  width: number;
  height: number;
  /** Objective at the octave's first step and after its last. */
  start: number;
  end: number;
  /** Objective at every step (jittered, as ascended), then after the last. */
  curve: number[];
}

export interface DreamResult {
  image: Plane;
  octaves: OctaveRecord[];
  /** With recordEvery: the image at the recorded steps of every octave (sizes grow by octave). */
  frames?: Plane[];
}

export function validateDreamOptions(o: DreamOptions): void {
  if (!Number.isInteger(o.octaves) || o.octaves < 1) throw invalidParameterError('octaves', 'an integer >= 1', o.octaves);
  if (!(o.octaveScale > 1)) throw invalidParameterError('octaveScale', 'a number > 1', o.octaveScale);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw invalidParameterError('steps', 'an integer >= 0', o.steps);
  if (!(o.step > 0)) throw invalidParameterError('step', 'a positive number', o.step);
  if (!Number.isInteger(o.jitter) || o.jitter < 0) throw invalidParameterError('jitter', 'an integer >= 0', o.jitter);
  if (!Number.isInteger(o.tile) || o.tile < o.divisor) throw invalidParameterError('tile', `an integer >= ${o.divisor}`, o.tile);
}

/** Octave sizes, smallest first; never below the divisor. */
export function octaveSizes(width: number, height: number, octaves: number, scale: number, divisor: number): { width: number; height: number }[] {
  const sizes = [];
  for (let i = octaves - 1; i >= 0; i--) {
    const f = scale ** i;
    sizes.push({ width: Math.max(divisor, Math.round(width / f)), height: Math.max(divisor, Math.round(height / f)) });
  }
  return sizes;
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** The image padded (by reflection) up to the divisor, as every model input must be. */
function padToDivisor(image: Plane, divisor: number): Plane {
  const pw = roundUp(image.width, divisor);
  const ph = roundUp(image.height, divisor);
  return pw === image.width && ph === image.height ? image : crop(image, 0, 0, pw, ph);
}

/** Gradient at the current image with jitter: pad to the divisor, roll, tiled gradient, unroll, crop. */
async function jitteredGradient(engine: Engine, image: Plane, options: DreamOptions, dx: number, dy: number, tiles: TileOptions) {
  const padded = padToDivisor(image, options.divisor);
  const rolled = dx === 0 && dy === 0 ? padded : roll(padded, dx, dy);
  const { value, gradient } = await tiledGradient(engine, rolled, options.objective, tiles);
  const unrolled = dx === 0 && dy === 0 ? { ...rolled, data: gradient } : roll({ ...rolled, data: gradient }, -dx, -dy);
  const g = padded === image ? unrolled.data : crop(unrolled, 0, 0, image.width, image.height).data;
  return { value, gradient: normalizeInPlace(g, options.normalize, DREAM_EPSILON) };
}

export async function dream(engine: Engine, input: Plane, options: DreamOptions, onProgress?: (p: DreamProgress) => void): Promise<DreamResult> {
  validateDreamOptions(options);
  const tiles: TileOptions = { tile: options.tile, halo: options.halo, divisor: options.divisor };
  const rng = keyedRng(options.seed, 'dream-jitter');
  const sizes = octaveSizes(input.width, input.height, options.octaves, options.octaveScale, options.divisor);
  let shrunkOriginal = resize(input, sizes[0]!.width, sizes[0]!.height);
  // A copy: the ascent writes into `image`, and shrunkOriginal must stay the undreamed reference.
  let image: Plane = { ...shrunkOriginal, data: Float32Array.from(shrunkOriginal.data) };
  const records: OctaveRecord[] = [];
  const every = options.recordEvery ?? 0;
  const frames: Plane[] | undefined = every > 0 ? [{ ...image, data: Float32Array.from(image.data) }] : undefined;
  for (let o = 0; o < sizes.length; o++) {
    const { width, height } = sizes[o]!;
    if (o > 0) image = resize(image, width, height);
    let start = NaN;
    const curve: number[] = [];
    for (let s = 0; s < options.steps; s++) {
      const jx = options.jitter > 0 ? rng.int(2 * options.jitter + 1) - options.jitter : 0;
      const jy = options.jitter > 0 ? rng.int(2 * options.jitter + 1) - options.jitter : 0;
      const { value, gradient } = await jitteredGradient(engine, image, options, jx, jy, tiles);
      if (s === 0) start = value;
      for (let i = 0; i < image.data.length; i++) image.data[i]! += options.step * gradient[i]!;
      curve.push(value);
      if (frames && (s + 1) % every === 0) frames.push({ ...image, data: Float32Array.from(image.data) });
      onProgress?.({ octave: o + 1, octaves: sizes.length, step: s + 1, steps: options.steps, objective: value });
    }
    // Forward passes only: the octave's final objective needs no gradient.
    const end = options.steps > 0 ? await tiledValue(engine, padToDivisor(image, options.divisor), options.objective, tiles) : NaN;
    if (options.steps > 0) curve.push(end);
    records.push({ octave: o + 1, width, height, start: options.steps > 0 ? start : NaN, end, curve });
    // Re-inject the detail that downscaling removed, so the result keeps the original's sharpness.
    const upscaledShrunk = resize(shrunkOriginal, width, height);
    const sameSize = resize(input, width, height);
    for (let i = 0; i < image.data.length; i++) image.data[i]! += sameSize.data[i]! - upscaledShrunk.data[i]!;
    shrunkOriginal = sameSize;
  }
  return { image, octaves: records, ...(frames ? { frames } : {}) };
}
