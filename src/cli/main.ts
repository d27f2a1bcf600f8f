/** The unet-dream command line: one file per command under commands/, one error handler. */
import yargs, { type Argv } from 'yargs';
import { UsageError, didYouMean } from '../errors.js';
import { reportError } from './errors.js';
import { outcome } from './outcome.js';
import type { CommandModule } from 'yargs';

/**
 * Command names (in the order help lists them) to their modules, loaded on demand: a command typed
 * first loads only its own module, so `unet-dream report DIR` starts without the engines, the model
 * readers or the queue the other commands import. Anything else (help, a flag first, a typo) loads all.
 */
const COMMAND_MODULES: Readonly<Record<string, () => Promise<CommandModule<never, never>>>> = Object.freeze({
  layers: async () => (await import('./commands/layers.js')).layersCommand as never,
  filters: async () => (await import('./commands/filters.js')).filtersCommand as never,
  dream: async () => (await import('./commands/dream.js')).dreamCommand as never,
  batch: async () => (await import('./commands/batch.js')).batchCommand as never,
  run: async () => (await import('./commands/run.js')).runCommand as never,
  report: async () => (await import('./commands/report.js')).reportCommand as never,
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand as never,
  convert: async () => (await import('./commands/convert.js')).convertCommand as never,
  train: async () => (await import('./commands/train.js')).trainCommand as never,
  eval: async () => (await import('./commands/eval.js')).evalCommand as never,
  activations: async () => (await import('./commands/activations.js')).activationsCommand as never,
  attribute: async () => (await import('./commands/attribute.js')).attributeCommand as never,
  examples: async () => (await import('./commands/examples.js')).examplesCommand as never,
  dissect: async () => (await import('./commands/dissect.js')).dissectCommand as never,
  ablate: async () => (await import('./commands/ablate.js')).ablateCommand as never,
  prune: async () => (await import('./commands/prune.js')).pruneCommand as never,
  merge: async () => (await import('./commands/merge.js')).mergeCommand as never,
  queue: async () => (await import('./commands/queue.js')).queueCommand as never,
  worker: async () => (await import('./commands/worker.js')).workerCommand as never,
});

/** Command names, in the order help lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMAND_MODULES);

/** The modules of the command typed first, or of every command. */
async function commandsFor(argv: readonly string[]): Promise<CommandModule<never, never>[]> {
  const first = argv[0];
  const names = first !== undefined && Object.hasOwn(COMMAND_MODULES, first) ? [first] : COMMAND_NAMES;
  return Promise.all(
    names.map(async (name) => {
      const command = await COMMAND_MODULES[name]!();
      // The table's key must be the name the module declares, or the typed command would parse as another.
      if (String(command.command).split(' ')[0] !== name) throw new Error(`COMMAND_MODULES: "${name}" loads the command "${String(command.command)}"`);
      return command;
    }),
  );
}

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
    for (const command of await commandsFor(argv)) cli = cli.command(command as never);
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
