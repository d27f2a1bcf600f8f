/** Shared tail of the commands that run a pipeline: validate, run with a reporter, print the summary. */
import { runPipeline } from '../../pipeline/run.js';
import { validatePipeline, type Locate } from '../../pipeline/validate.js';
import { createReporter } from '../reporter.js';
import type { Manifest } from '../../pipeline/manifest.js';

export async function validateAndRun(raw: unknown, args: { json: boolean; verbose: boolean }, command: string, locate?: Locate): Promise<Manifest> {
  const pipeline = validatePipeline(raw, locate);
  const reporter = createReporter(args);
  let manifest: Manifest;
  try {
    manifest = await runPipeline(pipeline, { command, onEvent: (e) => reporter.onEvent(e) });
  } finally {
    reporter.stop();
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
  } else {
    const sheets = new Set((manifest.results as { file: string }[]).map((r) => r.file));
    process.stdout.write(
      `wrote ${sheets.size} contact sheet${sheets.size === 1 ? '' : 's'} (${manifest.results.length} filters) and manifest.json to ${pipeline.config.write.out} in ${(manifest.wallTimeMs / 1000).toFixed(1)} s on ${manifest.engine.engine}/${manifest.engine.backend}\n`,
    );
  }
  return manifest;
}

/** Drops undefined values so unset flags leave the recipe's and schema's defaults in place. */
export function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
