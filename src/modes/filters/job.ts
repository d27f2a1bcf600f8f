/** One filters job (a batch of one layer's filters), the same in this thread and on a worker. */
import type { FilterPosition, GradientNormalization } from '../../engine/engine.js';
import type { SpectralSettings } from '../../ascent/recipes.js';
import type { DiversitySettings } from '../../ascent/diversity.js';
import { parseInit, prepareInit, type AliasingOptions } from '../../ascent/init.js';
import { runFilterJob, type FilterJob, type FilterResult } from '../../ascent/visualize.js';
import type { EngineContext } from '../../run/context.js';
import type { JobRunner } from '../../run/jobs.js';

/** What every job of a run shares: the settings resolved from the config and the model. */
export interface FilterJobConfig {
  init: string;
  aliasing: AliasingOptions;
  size: number;
  steps: number;
  step: number;
  normalize: GradientNormalization;
  seed: number;
  /** Record each filter's image every this many steps, for animations (0: none). */
  recordEvery: number;
  /** Multi-octave ascent: sizes (1: the seed's single size) and their ratio. */
  octaves: number;
  octaveScale: number;
  /** A spectral recipe's settings (lucid), with the config's overrides. */
  spectral?: SpectralSettings;
  /** Neuron objective and minimising. */
  position?: FilterPosition;
  negative?: boolean;
  /** Diversity objective: images per filter and the penalty's weight. */
  diversity?: DiversitySettings;
}

/** Progress of a job: the step it finished. */
export type FilterJobProgress = number;

export async function createJobRunner(ctx: EngineContext, config: FilterJobConfig): Promise<JobRunner<FilterJob, FilterResult[], FilterJobProgress>> {
  // An image: init reads its file once per process.
  const options = { ...config, divisor: ctx.divisor, init: await prepareInit(parseInit(config.init), config.aliasing) };
  return (job, progress) => runFilterJob(ctx.engine, ctx.channels, options, job, progress);
}

export function transferList(results: FilterResult[]): ArrayBuffer[] {
  return results.flatMap((r) => [r.image.buffer as ArrayBuffer, ...(r.frames ?? []).map((f) => f.buffer as ArrayBuffer), ...(r.diversity?.images ?? []).map((f) => f.buffer as ArrayBuffer)]);
}
