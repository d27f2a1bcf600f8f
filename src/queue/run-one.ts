/**
 * The one adapter between distributed runs (shards, the job queue) and the dream mode. Everything the
 * queue and `merge` know about dreaming goes through here, and it goes through the mode's own pieces:
 * its input expansion (`expandInputs`) and its per-input job (`createJobRunner` in
 * src/modes/dream/job.ts, the job `batch` runs in this thread or on a worker thread). So a queue job
 * and a shard dream exactly what a local batch dreams.
 *
 * Contract:
 * - `inputOrder(config)`: the inputs of a dream config in exactly the order a single `batch` run
 *   records them (missing paths first, as failures, then each folder walked in natural order).
 * - `openDreamer(config)`: loads the model and engine once (`openEngine`, as a worker thread does);
 *   `dreamer.dream(input, config)` runs the dream job for one input, which writes into `write.out`
 *   (atomic writes, names derived from the input alone, so the same input always lands in the same
 *   files) and returns its record exactly as `batch` records it: outputs relative to `write.out`, or
 *   `error` with the one-line reason for an input that cannot be read. Errors that are not the
 *   input's fault (engine, disk) are thrown.
 * - The output of one input depends only on the config (seed included) and the input's bytes, never on
 *   which process, machine or position in the run dreamed it: that is what makes shards and queue jobs
 *   equal to a single run.
 */
import { validateDreamOptions } from '../ascent/dream.js';
import { UsageError } from '../errors.js';
import { parseInputSpec } from '../io/input-spec.js';
import { dreamMode, expandInputs } from '../modes/dream/index.js';
import { createJobRunner, type DreamItemProgress, type DreamJob, type DreamRecord } from '../modes/dream/job.js';
import { planStems } from '../modes/dream/names.js';
import type { DreamConfig } from '../modes/dream/schema.js';
import type { LoadedModel } from '../model/load.js';
import { sizeMultiple } from '../model/input-size.js';
import { openEngine } from '../run/context.js';
import type { JobRunner } from '../run/jobs.js';
import type { Mode, ModeConfigBase } from '../run/mode.js';

export type { DreamConfig, DreamRecord, DreamItemProgress };

/** A validated pipeline's config as the dream mode's, or a one-line error naming what the command needs. */
export function dreamConfigOf(pipeline: { mode: Mode<any>; config: ModeConfigBase }, command: string): DreamConfig {
  if (pipeline.mode !== dreamMode) throw new UsageError(`${command} needs a dream pipeline (ascend.mode: dream); found mode ${pipeline.mode.name}`);
  return pipeline.config as DreamConfig;
}

/**
 * What a local run checks once the model is loaded, before any input (the mode's `checkModel`: layer names;
 * the dream options against the model's size multiple), so a bad config fails at submit, not in every job.
 */
export function checkAgainstModel(loaded: LoadedModel, config: DreamConfig): void {
  dreamMode.checkModel?.(loaded.model, config);
  validateDreamOptions({ ...config.ascend, halo: config.ascend.halo ?? 0, normalize: 'rms', divisor: sizeMultiple(loaded.model), seed: config.seed.seed, objective: { kind: 'layers', terms: [] } });
}

/** One input as a single run orders it: `text` is what the manifest records, `error` set when it does not exist. */
export interface OrderedInput {
  text: string;
  error?: string;
  /** The output stem a local run of the whole folder gives this input (planned over every input). */
  stem?: string;
}

export async function inputOrder(config: Pick<DreamConfig, 'seed' | 'write'>): Promise<OrderedInput[]> {
  const { planned, failures } = await expandInputs(config.seed.inputs, config.seed.include, config.write.out);
  const stems = planStems(planned);
  return [...failures.map((f) => ({ text: f.input, error: f.error })), ...planned.map((p, i) => ({ text: p.spec.text, stem: stems[i]! }))];
}

export interface EngineInfo {
  engine: string;
  backend: string;
  provider: string;
}

export interface Dreamer {
  readonly modelSha256: string;
  readonly model: { spec: string; id: string; sha256: string; trained: boolean; note: string };
  readonly engine: EngineInfo;
  /** Notes for the caller to show (backend fallbacks). */
  readonly notes: string[];
  /**
   * Dreams one input. `text` is the input as recorded; `path`, when given, is where to read it (an
   * absolute path on this machine for the same file).
   */
  dream(input: { text: string; path?: string; stem?: string }, config: DreamConfig, onProgress?: (p: DreamItemProgress) => void): Promise<DreamRecord>;
  dispose(): void;
}

/** The part of a config that decides the engine: dreams whose configs agree here can share one. */
export function engineKey(config: DreamConfig): string {
  return JSON.stringify(config.model);
}

export async function openDreamer(config: DreamConfig): Promise<Dreamer> {
  const ctx = await openEngine(config.model);
  const notes = [...ctx.skipped.map((s) => `backend skipped: ${s}`), ...(ctx.fallback ? [ctx.fallback] : [])];
  const { loaded, engine } = ctx;
  // One job runner per config (it holds the objective built for the config's layers), made on first use.
  const runners = new Map<string, Promise<JobRunner<DreamJob, DreamRecord, DreamItemProgress>>>();
  const runnerFor = (cfg: DreamConfig) => {
    const key = JSON.stringify(cfg);
    let runner = runners.get(key);
    if (!runner) {
      runner = createJobRunner(ctx, cfg);
      runners.set(key, runner);
    }
    return runner;
  };
  return {
    modelSha256: loaded.sha256,
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    engine: { engine: engine.info.engine, backend: engine.info.backend, provider: engine.info.provider },
    notes,
    dream: async (input, cfg, onProgress) => {
      const spec = parseInputSpec(input.text);
      const run = await runnerFor(cfg);
      // The stem submit planned over the whole folder; without one, the name the input alone gives.
      const stem = input.stem ?? planStems([{ spec }])[0]!;
      return run({ spec: input.path ? { ...spec, path: input.path } : spec, stem }, onProgress ?? (() => undefined));
    },
    dispose: () => engine.dispose(),
  };
}
