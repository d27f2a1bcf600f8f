/** The unet-dream command line: one file per command under commands/, one error handler. */
import yargs, { type Argv } from 'yargs';
import { UsageError, didYouMean } from '../errors.js';
import { reportError } from './errors.js';
import { outcome } from './outcome.js';
import { filtersCommand } from './commands/filters.js';
import { layersCommand } from './commands/layers.js';
import { runCommand } from './commands/run.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';
import { dreamCommand } from './commands/dream.js';
import { inspectCommand } from './commands/inspect.js';
import { batchCommand } from './commands/batch.js';
import { convertCommand } from './commands/convert.js';
import { mergeCommand } from './commands/merge.js';
import { queueCommand } from './commands/queue.js';
import { workerCommand } from './commands/worker.js';
import { reportCommand } from './commands/report.js';
import { dissectCommand } from './commands/dissect.js';
import { ablateCommand } from './commands/ablate.js';
import { pruneCommand } from './commands/prune.js';
import { activationsCommand } from './commands/activations.js';
import { attributeCommand } from './commands/attribute.js';
import { examplesCommand } from './commands/examples.js';

const COMMANDS = [
  layersCommand, filtersCommand, dreamCommand, batchCommand, runCommand, reportCommand, inspectCommand, convertCommand, trainCommand, evalCommand,
  activationsCommand, attributeCommand, examplesCommand, dissectCommand, ablateCommand, pruneCommand, mergeCommand, queueCommand, workerCommand,
];

/** Command names, in the order help lists them. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => String(c.command).split(' ')[0]!);

const commandList = `commands: ${COMMAND_NAMES.join(', ')} (unet-dream COMMAND --help for its options)`;

/** What the user typed for FLAG: `--flag value` or `--flag=value` (the last one wins, as in yargs). */
function typedValue(argv: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === `--${flag}`) found = argv[i + 1];
    else if (a.startsWith(`--${flag}=`)) found = a.slice(flag.length + 3);
  }
  return found;
}

interface Options {
  key: Record<string, unknown>;
  number: string[];
}

/**
 * Before validation: a number flag given something that is not a number names the flag and what the
 * user typed, not NaN. Also records the options of the command being parsed, for did-you-mean.
 */
function checkNumbers(argv: readonly string[], seen: { options?: string[] }) {
  return (args: Record<string, unknown>, y: Argv) => {
    const all = (y as unknown as { getOptions(): Options }).getOptions();
    seen.options = Object.keys(all.key);
    const numbers = all.number;
    for (const key of numbers) {
      const value = args[key];
      const bad = Array.isArray(value) ? value.some((v) => typeof v === 'number' && Number.isNaN(v)) : typeof value === 'number' && Number.isNaN(value);
      if (bad) throw new UsageError(`--${key}: expected a number, got ${JSON.stringify(typedValue(argv, key) ?? '')}`);
    }
  };
}

/** yargs' "Unknown argument(s): a, b" as a did-you-mean against the command's own options, or the command list. */
function unknownArguments(message: string, argv: readonly string[], known: readonly string[]): UsageError | undefined {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  if (!m) return undefined;
  const names = m[1]!.split(', ');
  const first = argv.find((a) => !a.startsWith('-'));
  if (first !== undefined && !COMMAND_NAMES.includes(first) && names.includes(first)) {
    const hint = didYouMean(first, COMMAND_NAMES);
    return new UsageError(`unknown command "${first}"${hint ? ` (did you mean "${hint}"?)` : ''}; ${commandList}`);
  }
  const options = known.filter((k) => k.length > 1 && !/[A-Z]/.test(k));
  const lines = names.map((name) => {
    const flag = name.replace(/^-+/, '');
    const typed = argv.find((a) => a === `--${flag}` || a.startsWith(`--${flag}=`) || a === `-${flag}`) ? `--${flag}` : flag;
    const hint = didYouMean(flag, options);
    if (!typed.startsWith('--')) return `unexpected argument "${flag}"`;
    return `unknown option ${typed}${hint ? ` (did you mean --${hint}?)` : ''}`;
  });
  const command = first !== undefined && COMMAND_NAMES.includes(first) ? first : undefined;
  return new UsageError(`${lines.join('; ')}; ${command ? `unet-dream ${command} --help lists its options` : commandList}`);
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  outcome.exitCode = 0;
  try {
    const seen: { options?: string[] } = {};
    let cli = yargs(argv).scriptName('unet-dream').exitProcess(false);
    for (const command of COMMANDS) cli = cli.command(command as never);
    await cli
      .middleware(checkNumbers(argv, seen) as never, true)
      .demandCommand(1, `name a command; ${commandList}`)
      .strict()
      .help()
      .version()
      .wrap(Math.min(110, process.stdout.columns ?? 110))
      .fail((message, err) => {
        if (err) throw err;
        throw unknownArguments(message, argv, seen.options ?? []) ?? new UsageError(message);
      })
      .parseAsync();
    return outcome.exitCode;
  } catch (err) {
    return reportError(err, verbose);
  }
}
