/**
 * Multi-octave filter visualisation (the design card's "multi-octave normalised gradient ascent on
 * chosen filters"; Keras' later conv_filter_visualization): ascend at the smallest size, upscale the
 * result, ascend again, up to the requested size. Structure found at a coarse scale survives as a
 * large pattern; one octave is the single-size ascent, bit for bit.
 */
import type { Batch, Engine, Objective } from '../engine/engine.js';
import { invalidParameterError } from '../errors.js';
import { ascend, type AscentResult } from './ascend.js';
import { ascendSpectral, spectralStart } from './lucid.js';
import { keyedRng } from '../random.js';
import { resize } from './resample.js';
import type { SpectralSettings } from './recipes.js';
import type { DiversitySettings } from './diversity.js';
import type { GradientNormalization } from '../engine/engine.js';

export interface OctaveRecord {
  size: number;
  /** Objective per image at the octave's start and end. */
  start: number;
  end: number;
}

/** Image sizes from smallest to `size`: size / scale^k rounded to a multiple of `divisor` (at least one). */
export function octaveSizes(size: number, octaves: number, scale: number, divisor: number): number[] {
  if (!Number.isInteger(octaves) || octaves < 1) throw invalidParameterError('--octaves', 'an integer >= 1', octaves);
  if (!(scale > 1)) throw invalidParameterError('--octave-scale', 'a number > 1', scale);
  const sizes: number[] = [];
  for (let k = octaves - 1; k >= 0; k--) sizes.push(Math.max(divisor, Math.round(size / scale ** k / divisor) * divisor));
  sizes[sizes.length - 1] = size;
  return sizes;
}

export interface OctaveAscentOptions {
  sizes: number[];
  channels: number;
  steps: number;
  step: number;
  normalize: GradientNormalization;
  spectral?: SpectralSettings;
  divisor: number;
  seed: number;
  /** The pixel recipe's starting images at a size (keyed per filter by the caller). */
  initial: (size: number) => Float32Array;
  /** Spectral recipes: consecutive groups of `copies` images per filter, pushed apart (see diversity.ts). */
  diversity?: DiversitySettings;
}

export interface OctaveAscentResult extends AscentResult {
  octaves: OctaveRecord[][];
  /** With diversity: each filter's mean pairwise Gram distance on its final images. */
  diversity?: number[];
}

function upscale(data: Float32Array, n: number, from: number, to: number, channels: number): Float32Array {
  const per = from * from * channels;
  const out = new Float32Array(n * to * to * channels);
  for (let b = 0; b < n; b++) {
    const r = resize({ data: data.subarray(b * per, (b + 1) * per), width: from, height: from, channels }, to, to);
    out.set(r.data, b * to * to * channels);
  }
  return out;
}

/** Ascends a batch of filters (image b: filter b of the objective) through the octaves. */
export async function ascendOctaves(
  engine: Engine,
  objective: Extract<Objective, { kind: 'filter' }>,
  options: OctaveAscentOptions,
  onStep?: (step: number, values: Float32Array) => void,
): Promise<OctaveAscentResult> {
  const n = objective.filters.length;
  const { channels, sizes } = options;
  const octaves: OctaveRecord[][] = Array.from({ length: n }, () => []);
  const stepsDone = (k: number) => k * options.steps;
  let result: AscentResult | undefined;
  let logits: Float32Array | undefined;
  let dead = Array.from({ length: n }, () => true);
  let firstStart: Float32Array | undefined;
  let diversity: number[] | undefined;
  // Every octave's per-step objective, one after the other (each octave's list ends with its end value).
  const curves: number[][] = Array.from({ length: n }, () => []);
  for (let k = 0; k < sizes.length; k++) {
    const size = sizes[k]!;
    const shape = { n, height: size, width: size, channels };
    const listener = onStep && ((s: number, v: Float32Array) => onStep(stepsDone(k) + s, v));
    if (options.spectral) {
      // Copies of one filter (diversity) each get their own start and transforms.
      const copies = options.diversity?.copies ?? 1;
      const rngFor = (...key: (string | number)[]) =>
        objective.filters.map((f, b) => (copies > 1 ? keyedRng(options.seed, ...key, objective.layer, f, 'copy', b % copies) : keyedRng(options.seed, ...key, objective.layer, f)));
      // Later octaves start from the previous octave's pre-sigmoid image, upscaled.
      const start = k === 0 ? spectralStart(shape, options.spectral, rngFor('spectral')) : upscale(logits!, n, sizes[k - 1]!, size, channels);
      const out = await ascendSpectral(
        engine,
        { logits: start, shape },
        objective,
        { steps: options.steps, lr: options.step, settings: options.spectral, divisor: options.divisor, stepRngs: (i) => rngFor('transform', k, i), diversity: options.diversity },
        listener,
      );
      logits = out.logits;
      result = out;
      diversity = out.diversity;
    } else {
      const data = k === 0 ? options.initial(size) : upscale(result!.image.data, n, sizes[k - 1]!, size, channels);
      const batch: Batch = { data, ...shape };
      result = await ascend(engine, batch, objective, options, listener);
    }
    firstStart ??= result.start;
    // A filter is dead only if no octave ever gave it a gradient.
    dead = dead.map((d, b) => d && result!.dead[b]!);
    for (let b = 0; b < n; b++) octaves[b]!.push({ size, start: result.start[b]!, end: result.end[b]! });
    for (let b = 0; b < n; b++) curves[b]!.push(...result.curves[b]!);
  }
  return { image: result!.image, start: firstStart!, end: result!.end, dead, curves, octaves, ...(diversity ? { diversity } : {}) };
}
