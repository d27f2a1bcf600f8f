/**
 * Runs a validated pipeline: opens the run context (model, engine, worker plan, manifest skeleton),
 * hands it to the pipeline's mode, and writes the manifest of what the mode returns. Heavy work starts
 * only here, after validatePipeline accepted the whole config.
 */
import type { EventSink } from '../events.js';
import { openRun } from '../run/context.js';
import type { Manifest } from '../run/manifest.js';
import type { ModeOutput, ModeRunOptions } from '../run/mode.js';
import type { ValidatedPipeline } from './validate.js';

export interface RunOptions extends ModeRunOptions {
  /** What the manifest records as the command that ran. */
  command: string;
  onEvent?: EventSink;
  /** Worker threads, each with its own engine (batch's --concurrency); default: the mode's config, else the engine's plan. */
  workers?: number;
}

export async function runPipeline(pipeline: ValidatedPipeline, options: RunOptions): Promise<Manifest> {
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
    output = await mode.run(ctx, config, { resume: options.resume, signal: options.signal });
  } finally {
    ctx.engine.dispose();
  }
  return ctx.finish(output);
}
