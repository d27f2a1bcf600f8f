/**
 * Filter visualization: for each target layer and filter, start from a seeded image and ascend the
 * filter's mean activation. Filters of one layer run together in batches, each image its own filter.
 */
import type { Batch, Engine, GradientNormalization } from '../engine/engine.js';
import type { LayersModel } from '../tf.js';
import { UsageError, invalidParameterError, unknownNameError } from '../errors.js';
import { ascend } from './ascend.js';
import { resolveFilters, type FilterSelection } from './filters.js';
import type { InitSource } from './init.js';
import { keyedRng } from '../random.js';
import { checkInputSize, inputSizeMessage, sizeMultiple } from '../model/input-size.js';
import { modelChannels, targetableLayers } from '../model/introspect.js';
import { ascendOctaves, octaveSizes, type OctaveRecord } from './octaves.js';
import type { SpectralSettings } from './recipes.js';
import type { FilterPosition } from '../engine/engine.js';
import type { DiversitySettings } from './diversity.js';

export interface VisualizeOptions {
  layers: readonly string[];
  filters: FilterSelection;
  init: InitSource;
  size: number;
  steps: number;
  step: number;
  normalize: GradientNormalization;
  seed: number;
  /** Filters optimised together per engine call. */
  batch: number;
  /** Record each filter's image every this many steps, for animations (0: none). */
  recordEvery?: number;
  /** Multi-octave ascent: number of sizes (default 1: one size, the seed's loop) and their ratio. */
  octaves?: number;
  octaveScale?: number;
  /** The `lucid` recipe's settings: ascend spectral coefficients with Adam instead of pixels. */
  spectral?: SpectralSettings;
  /** Neuron objective (one unit, at fractions of the layer's height and width) and minimising. */
  position?: FilterPosition;
  negative?: boolean;
  /** The model's total pooling factor (octave sizes and padding keep to its multiples); set by the runners. */
  divisor?: number;
  /**
   * Diversity objective (spectral recipes only): `copies` images per filter optimised together with a
   * penalty of `weight` on the similarity of their Gram matrices at the filter's layer.
   */
  diversity?: DiversitySettings;
}

export interface FilterResult {
  layer: string;
  filter: number;
  activation: { start: number; end: number };
  /** True when the filter never had a gradient: it cannot be visualised from this start. */
  dead: boolean;
  /** The final image, height x width x channels. */
  image: Float32Array;
  /** Objective at every step, then after the last (steps + 1 values). */
  curve: number[];
  /** With recordEvery: this filter's image at the recorded steps, first to last. */
  frames?: Float32Array[];
  /** Each octave's size and objective at its start and end (multi-octave or spectral runs). */
  octaves?: OctaveRecord[];
  /**
   * Diversity runs: every image of the filter (the first is `image`), each one's objective at the end,
   * and their mean pairwise Gram distance at the filter's layer.
   */
  diversity?: { images: Float32Array[]; ends: number[]; meanDistance: number };
}

export interface VisualizeProgress {
  layer: string;
  filters: readonly number[];
  step: number;
  steps: number;
  /** Filters finished so far, over all layers. */
  done: number;
  total: number;
}

export interface LayerPlan {
  layer: string;
  filters: number[];
}

/** Resolves layers and filters against the model, before any tensor is made. */
export function planVisualization(model: LayersModel, options: Pick<VisualizeOptions, 'layers' | 'filters' | 'seed' | 'size'>): LayerPlan[] {
  const valid = targetableLayers(model);
  if (!Number.isInteger(options.size) || options.size < 1) throw invalidParameterError('size', 'an integer >= 1', options.size);
  const fits = checkInputSize(model, options.size);
  if (!fits.ok) throw new UsageError(inputSizeMessage(options.size, fits), 'size');
  if (options.layers.length === 0) throw invalidParameterError('layers', 'at least one layer name', '');
  return options.layers.map((layer) => {
    if (!valid.includes(layer)) throw unknownNameError('layer', layer, valid);
    const shape = model.getLayer(layer).outputShape as number[];
    return { layer, filters: resolveFilters(options.filters, layer, shape[3]!, options.seed) };
  });
}

/** The starting image of one filter: keyed by (seed, layer, filter) so batching never changes it. */
export function initialImage(options: Pick<VisualizeOptions, 'init' | 'size' | 'seed'>, channels: number, layer: string, filter: number): Float32Array {
  const rng = keyedRng(options.seed, 'init', layer, filter);
  return options.init({ height: options.size, width: options.size, channels }, rng);
}

/** One unit of work: a batch of filters of one layer. Jobs are split identically for any worker count. */
export interface FilterJob {
  layer: string;
  filters: number[];
}

export function splitJobs(plan: LayerPlan[], batch: number): FilterJob[] {
  if (!Number.isInteger(batch) || batch < 1) throw invalidParameterError('batch', 'an integer >= 1', batch);
  const jobs: FilterJob[] = [];
  for (const { layer, filters } of plan) {
    for (let b = 0; b < filters.length; b += batch) jobs.push({ layer, filters: filters.slice(b, b + batch) });
  }
  return jobs;
}

export type JobOptions = Omit<VisualizeOptions, 'layers' | 'filters' | 'batch'>;

/** Ascends one job's filters together, one batch image per filter. */
export async function runFilterJob(engine: Engine, channels: number, options: JobOptions, job: FilterJob, onStep?: (step: number) => void): Promise<FilterResult[]> {
  const copies = checkDiversity(options);
  if (copies > 1) return runDiverseJob(engine, channels, options, job, copies, onStep);
  if (options.spectral || (options.octaves ?? 1) > 1 || options.position || options.negative) {
    const objective = { kind: 'filter' as const, layer: job.layer, filters: job.filters, position: options.position, negative: options.negative };
    const sizes = octaveSizes(options.size, options.octaves ?? 1, options.octaveScale ?? 1.4, options.divisor ?? 1);
    const initial = (size: number) => {
      const pixels = size * size * channels;
      const data = new Float32Array(job.filters.length * pixels);
      job.filters.forEach((f, i) => data.set(initialImage({ ...options, size }, channels, job.layer, f), i * pixels));
      return data;
    };
    const out = await ascendOctaves(engine, objective, { ...options, sizes, channels, divisor: options.divisor ?? 1, initial }, onStep);
    const pixels = options.size * options.size * channels;
    return job.filters.map((filter, i) => ({
      layer: job.layer,
      filter,
      activation: { start: out.start[i]!, end: out.end[i]! },
      dead: out.dead[i]!,
      image: out.image.data.slice(i * pixels, (i + 1) * pixels),
      curve: out.curves[i]!,
      octaves: out.octaves[i]!,
    }));
  }
  const pixels = options.size * options.size * channels;
  const data = new Float32Array(job.filters.length * pixels);
  job.filters.forEach((f, i) => data.set(initialImage(options, channels, job.layer, f), i * pixels));
  const batch: Batch = { data, n: job.filters.length, height: options.size, width: options.size, channels };
  const out = await ascend(engine, batch, { kind: 'filter', layer: job.layer, filters: job.filters }, options, onStep);
  return job.filters.map((filter, i) => ({
    layer: job.layer,
    filter,
    activation: { start: out.start[i]!, end: out.end[i]! },
    dead: out.dead[i]!,
    image: out.image.data.slice(i * pixels, (i + 1) * pixels),
    curve: out.curves[i]!,
    ...(out.frames ? { frames: out.frames.map((f) => f.slice(i * pixels, (i + 1) * pixels)) } : {}),
  }));
}

/** Images per filter the options ask for (1 without diversity); diversity needs a spectral recipe. */
export function checkDiversity(options: Pick<VisualizeOptions, 'diversity' | 'spectral'>): number {
  const d = options.diversity;
  if (!d || d.copies === 1) return 1;
  if (!Number.isInteger(d.copies) || d.copies < 1) throw invalidParameterError('diversity', 'an integer >= 1 (images per filter)', d.copies);
  if (!(d.weight >= 0)) throw invalidParameterError('diversityWeight', 'a number >= 0', d.weight);
  if (!options.spectral) throw new UsageError('diversity: N images per filter needs a spectral recipe (lucid); the seed recipe ascends each image alone', 'diversity');
  return d.copies;
}

/** A job's filters, each as `copies` images side by side in one batch, ascended together with the diversity penalty. */
async function runDiverseJob(engine: Engine, channels: number, options: JobOptions, job: FilterJob, copies: number, onStep?: (step: number) => void): Promise<FilterResult[]> {
  const filters = job.filters.flatMap((f) => new Array<number>(copies).fill(f));
  const objective = { kind: 'filter' as const, layer: job.layer, filters, position: options.position, negative: options.negative };
  const sizes = octaveSizes(options.size, options.octaves ?? 1, options.octaveScale ?? 1.4, options.divisor ?? 1);
  const unused = () => new Float32Array(0); // spectral starts are the parameterisation's own
  const out = await ascendOctaves(engine, objective, { ...options, sizes, channels, divisor: options.divisor ?? 1, initial: unused }, onStep);
  const pixels = options.size * options.size * channels;
  const imageOf = (b: number) => out.image.data.slice(b * pixels, (b + 1) * pixels);
  return job.filters.map((filter, i) => {
    const first = i * copies;
    const group = Array.from({ length: copies }, (_, k) => first + k);
    return {
      layer: job.layer,
      filter,
      activation: { start: out.start[first]!, end: out.end[first]! },
      // The filter is dead when none of its images ever fired.
      dead: group.every((b) => out.dead[b]!),
      image: imageOf(first),
      curve: out.curves[first]!,
      octaves: out.octaves[first]!,
      diversity: { images: group.map(imageOf), ends: group.map((b) => out.end[b]!), meanDistance: out.diversity![i]! },
    };
  });
}

/** Runs every job on one engine in this thread (see engine/pool.ts for the parallel path). */
export async function visualizeFilters(
  engine: Engine,
  model: LayersModel,
  options: VisualizeOptions,
  onProgress?: (p: VisualizeProgress) => void,
): Promise<FilterResult[]> {
  const plan = planVisualization(model, options);
  const jobs = splitJobs(plan, options.batch);
  const channels = modelChannels(model);
  options = { ...options, divisor: options.divisor ?? sizeMultiple(model) };
  const total = jobs.reduce((s, j) => s + j.filters.length, 0);
  const results: FilterResult[] = [];
  for (const job of jobs) {
    const done = results.length;
    results.push(
      ...(await runFilterJob(engine, channels, options, job, (step) =>
        onProgress?.({ layer: job.layer, filters: job.filters, step, steps: options.steps, done, total }),
      )),
    );
    onProgress?.({ layer: job.layer, filters: job.filters, step: options.steps, steps: options.steps, done: results.length, total });
  }
  return results;
}
