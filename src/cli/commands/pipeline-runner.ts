/** Shared tail of the commands that run a pipeline: validate, run with a reporter, print the summary. */
import path from 'node:path';
import { runPipeline } from '../../pipeline/run.js';
import { validatePipeline, type Locate } from '../../pipeline/validate.js';
import { createReporter } from '../reporter.js';
import type { Manifest } from '../../pipeline/manifest.js';
import { outcome } from '../outcome.js';

export interface RunFlags {
  concurrency?: number;
  resume?: boolean;
}

export async function validateAndRun(raw: unknown, args: { json: boolean; verbose: boolean }, command: string, locate?: Locate, flags: RunFlags = {}): Promise<Manifest> {
  const pipeline = validatePipeline(raw, locate);
  const reporter = createReporter(args);
  // First Ctrl-C: finish the items in flight, write the manifest, exit 130. A second one kills.
  const controller = new AbortController();
  const onSigint = () => {
    reporter.onEvent({ type: 'warn', message: 'interrupted: finishing the current items and writing the manifest (Ctrl-C again to stop at once)' });
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  let manifest: Manifest;
  try {
    manifest = await runPipeline(pipeline, { command, onEvent: (e) => reporter.onEvent(e), signal: controller.signal, ...flags });
  } finally {
    process.off('SIGINT', onSigint);
    reporter.stop();
  }
  if (controller.signal.aborted) outcome.exitCode = 130;
  const failed = (manifest.results as { error?: string }[]).filter((r) => r.error).length;
  if (failed > 0) outcome.exitCode = 1;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  }
  if (pipeline.mode === 'dream') {
    const total = manifest.results.length;
    process.stdout.write(
      `dreamed ${total - failed} of ${total} input${total === 1 ? '' : 's'} into ${pipeline.config.write.out} in ${(manifest.wallTimeMs / 1000).toFixed(1)} s on ${manifest.engine.engine}/${manifest.engine.backend}${failed ? `; ${failed} failed (listed in manifest.json)` : ''}\n`,
    );
  } else {
    const sheets = new Set((manifest.results as { file: string }[]).map((r) => r.file));
    process.stdout.write(
      `wrote ${sheets.size} contact sheet${sheets.size === 1 ? '' : 's'} (${manifest.results.length} filters) and manifest.json to ${pipeline.config.write.out} in ${(manifest.wallTimeMs / 1000).toFixed(1)} s on ${manifest.engine.engine}/${manifest.engine.backend}\n`,
    );
  }
  process.stdout.write(`report: ${path.join(pipeline.config.write.out, 'index.html')}\n`);
  return manifest;
}

/** Drops undefined values so unset flags leave the recipe's and schema's defaults in place. */
export function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
