/**
 * Runs a validated pipeline: opens the run context (model, engine, worker plan, manifest skeleton),
 * hands it to the pipeline's mode, and writes the manifest of what the mode returns. Heavy work starts
 * only here, after validatePipeline accepted the whole config.
 */
import { promises as fs } from 'node:fs';
import type { EventSink } from '../events.js';
import { ensureWritableDir } from '../io/atomic.js';
import { openRun } from '../run/context.js';
import { guardOutFolder, lockOutFolder, removeIfEmpty } from '../run/out-folder.js';
import type { Manifest } from '../run/manifest.js';
import type { ModeOutput, ModeRunOptions } from '../run/mode.js';
import type { ValidatedPipeline } from './validate.js';

export interface RunOptions extends ModeRunOptions {
  /** What the manifest records as the command that ran. */
  command: string;
  onEvent?: EventSink;
  /** Worker threads, each with its own engine (batch's --concurrency); default: the mode's config, else the engine's plan. */
  workers?: number;
  /**
   * Set (true or false) by commands that guard their output folder: one holding another run's manifest is then
   * refused unless `resume` or `overwrite` (which removes that run's files first). Unset: no guard.
   */
  overwrite?: boolean;
}

export async function runPipeline(pipeline: ValidatedPipeline, options: RunOptions): Promise<Manifest> {
  const out = pipeline.config.write.out;
  const existed = await fs.stat(out).then(() => true, () => false);
  await ensureWritableDir(out);
  let release: (() => Promise<void>) | undefined;
  try {
    // One run at a time per folder; the manifest guard runs with the lock held.
    release = await lockOutFolder(out);
    if (options.overwrite !== undefined) await guardOutFolder(out, pipeline.config, { resume: options.resume, overwrite: options.overwrite });
    return await runLocked(pipeline, options);
  } finally {
    await release?.();
    // A run that failed before writing anything leaves no empty folder behind.
    if (!existed) await removeIfEmpty(out);
  }
}

async function runLocked(pipeline: ValidatedPipeline, options: RunOptions): Promise<Manifest> {
  const { mode, config } = pipeline;
  const ctx = await openRun({
    command: options.command,
    model: config.model,
    out: config.write.out,
    config,
    seed: config.seed.seed,
    emit: options.onEvent ?? (() => undefined),
    workers: options.workers ?? mode.workers?.(config),
    checkModel: mode.checkModel ? (loaded) => mode.checkModel!(loaded.model, config) : undefined,
  });
  let output: ModeOutput;
  try {
    output = await mode.run(ctx, config, { resume: options.resume, signal: options.signal, shard: options.shard });
  } finally {
    ctx.engine.dispose();
  }
  return ctx.finish(output);
}
