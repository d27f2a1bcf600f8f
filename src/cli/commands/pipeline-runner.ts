/** Shared tail of the commands that run a pipeline: validate once, run with a reporter, print the summary. */
import path from 'node:path';
import { UsageError, renameOption } from '../../errors.js';
import { runPipeline } from '../../pipeline/run.js';
import { validatePipeline, type Locate } from '../../pipeline/validate.js';
import type { Manifest } from '../../run/manifest.js';
import { createReporter } from '../reporter.js';
import { outcome } from '../outcome.js';

export interface RunFlags {
  /** Worker threads (batch's --concurrency). */
  workers?: number;
  resume?: boolean;
  /** Commands that guard their --out (dream, batch) set it: see RunOptions.overwrite. */
  overwrite?: boolean;
  /** batch --shard k/N: see ModeRunOptions.shard. */
  shard?: { index: number; count: number };
}

export interface Source {
  /** file:line:col of a config path, for a pipeline file. */
  locate?: Locate;
  /** Config path (`ascend.octaves`) -> the flag that set it (`--octaves`), for a config built from flags. */
  flags?: Readonly<Record<string, string>>;
}

/** The flag of a library option name (`octaveScale` -> `--octave-scale`) when exactly one config path ends in it. */
function flagOfOption(flags: Readonly<Record<string, string>>, option: string): string | undefined {
  const matches = Object.entries(flags).filter(([p]) => p.split('.').at(-1) === option);
  return matches.length === 1 ? matches[0]![1] : undefined;
}

export async function validateAndRun(raw: unknown, args: { json: boolean; verbose: boolean }, command: string, source: Source = {}, flags: RunFlags = {}): Promise<Manifest> {
  const pipeline = validatePipeline(raw, { locate: source.locate, flag: source.flags ? (p) => source.flags![p.join('.')] : undefined });
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
  } catch (err) {
    // The library names its options; a user who typed flags reads the flag.
    if (!(err instanceof UsageError) || !err.option) throw err;
    const flag = source.flags ? flagOfOption(source.flags, err.option) : undefined;
    // From flags: the flag the user typed. From a file: the option as the file spells it, not a flag.
    throw new UsageError(flag ? renameOption(err, flag) : err.message);
  } finally {
    process.off('SIGINT', onSigint);
    reporter.stop();
  }
  if ((manifest.results as { error?: string }[]).some((r) => r.error)) outcome.exitCode = 1;
  // An interrupted run exits 130 whatever else happened: the user stopped it, and a script must know.
  if (controller.signal.aborted) outcome.exitCode = 130;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
  } else {
    // The report's path last, so a reader finds the one page to open.
    process.stdout.write(`${pipeline.mode.summarize(manifest, pipeline.config)}\nreport: ${path.join(pipeline.config.write.out, 'index.html')}\n`);
  }
  return manifest;
}
