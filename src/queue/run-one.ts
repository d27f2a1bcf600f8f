/**
 * The one adapter between distributed runs (shards, the job queue) and the dream runner. Everything
 * the queue and `merge` know about dreaming goes through here, so a change to the runner's internals
 * touches this file only.
 *
 * Contract:
 * - `inputOrder(config)`: the inputs of a dream config in exactly the order a single `batch` run
 *   records them (missing paths first, as failures, then each folder walked in natural order).
 * - `openDreamer(config)`: loads the model and engine once; `dreamer.dream(input, config)` dreams one
 *   input into `config.out` (atomic writes, names derived from the input alone, so the same input
 *   always lands in the same files) and returns its record exactly as `batch` records it: outputs
 *   relative to `config.out`, or `error` with the one-line reason for an input that cannot be read.
 *   Errors that are not the input's fault (engine, disk) are thrown.
 * - The output of one input depends only on the config (seed included) and the input's bytes, never on
 *   which process, machine or position in the run dreamed it: that is what makes shards and queue jobs
 *   equal to a single run.
 */
import { expandInputs, createDreamContext, dreamOne, type DreamConfig, type DreamContext, type DreamItemProgress, type DreamRecord } from '../pipeline/dream-run.js';
import { parseInputSpec } from '../io/input-spec.js';

export type { DreamConfig, DreamRecord, DreamItemProgress };

/** One input as a single run orders it: `text` is what the manifest records, `error` set when it does not exist. */
export interface OrderedInput {
  text: string;
  error?: string;
}

export async function inputOrder(config: Pick<DreamConfig, 'inputs' | 'include'>): Promise<OrderedInput[]> {
  const { specs, failures } = await expandInputs(config.inputs, config.include);
  return [...failures.map((f) => ({ text: f.input, error: f.error })), ...specs.map((s) => ({ text: s.text }))];
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
  /** Notes for the caller to show (backend fallbacks, an untrained model). */
  readonly notes: string[];
  /**
   * Dreams one input. `text` is the input as recorded; `path`, when given, is where to read it (an
   * absolute path on this machine for the same file).
   */
  dream(input: { text: string; path?: string }, config: DreamConfig, onProgress?: (p: DreamItemProgress) => void): Promise<DreamRecord>;
  dispose(): void;
}

/** The part of a config that decides the engine: dreams whose configs agree here can share one. */
export function engineKey(config: DreamConfig): string {
  return JSON.stringify([config.model, config.layers, config.objective]);
}

export async function openDreamer(config: DreamConfig): Promise<Dreamer> {
  const ctx: DreamContext & { skipped: string[]; fallback?: string } = await createDreamContext(config);
  const notes = [...ctx.skipped.map((s) => `backend skipped: ${s}`), ...(ctx.fallback ? [ctx.fallback] : [])];
  const { loaded } = ctx;
  return {
    modelSha256: loaded.sha256,
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    engine: { engine: ctx.engine.info.engine, backend: ctx.engine.info.backend, provider: ctx.engine.info.provider },
    notes,
    dream: (input, cfg, onProgress) => {
      const spec = parseInputSpec(input.text);
      return dreamOne(ctx, input.path ? { ...spec, path: input.path } : spec, cfg, onProgress);
    },
    dispose: () => ctx.engine.dispose(),
  };
}
