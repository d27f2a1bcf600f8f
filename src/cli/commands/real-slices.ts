/** What the real-slice commands (activations, attribute, examples) share: model flags to config, progress, summary. */
import type { CommonArgs } from '../options.js';
import type { RealSliceEvent } from '../../activations/run-context.js';
import { outcome } from '../outcome.js';

export function modelConfig(args: CommonArgs) {
  return Object.fromEntries(
    Object.entries({ source: args.model, architecture: args.architecture, backend: args.backend, device: args.device, threads: args.threads }).filter(([, v]) => v !== undefined),
  );
}

/** Drops undefined values so the schema's defaults apply. */
export function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function progress(args: CommonArgs): (e: RealSliceEvent) => void {
  return (e) => {
    if (args.json) return;
    if (e.type === 'engine') {
      if (e.fallback) process.stderr.write(`unet-dream: ${e.fallback}\n`);
      else if (args.verbose) process.stderr.write(`engine: ${e.engine} on ${e.backend}\n`);
    } else if (e.type === 'slice') process.stderr.write(`[${e.index + 1}/${e.total}] ${e.input}\n`);
    else process.stderr.write(`layer ${e.layer} (${e.index + 1}/${e.total})\n`);
  };
}

/** Prints the manifest (--json) or one line per input; inputs that failed set exit code 1. */
export function report(args: CommonArgs, out: string, result: { results: { input: string; error?: string }[]; wallTimeMs: number }, describe: (r: never) => string): void {
  const failed = result.results.filter((r) => r.error);
  if (failed.length) outcome.exitCode = 1;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  for (const r of result.results) process.stdout.write(r.error ? `ERROR ${r.error}\n` : `${describe(r as never)}\n`);
  process.stdout.write(`wrote ${out} (${(result.wallTimeMs / 1000).toFixed(1)} s)\n`);
}
