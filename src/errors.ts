/**
 * Errors that carry their own exit code, so the CLI's single error handler (cli/errors.ts) turns any
 * failure into one line and the code the error carries: 2 for bad usage, configuration or an output
 * that cannot be written, 1 for an input that failed. See docs/ARCHITECTURE.md, "Errors".
 */

/**
 * Bad usage or configuration: caught before any heavy work. Exit code 2. Library code names options as
 * the library spells them (`octaveScale`); `option` says which, so the CLI can name its flag instead.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly option?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The error's message with its option named LABEL instead (a flag such as `--octave-scale`, or a
 * config path): in "Expected ... for NAME but received ..." and in a message that starts with the name.
 */
export function renameOption(err: UsageError, label: string): string {
  if (!err.option) return err.message;
  const name = err.option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return err.message.replace(new RegExp(`^${name}(?=[ :])|(?<= for )${name}(?= but received)`), label);
}

/** An input (file, slice, image) could not be read or processed. Exit code 1. */
export class InputError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${input}: ${reason}`);
    this.name = 'InputError';
  }
}

/** An output could not be written (unwritable directory, full disk). Exit code 2: the user must fix the path. */
export class OutputError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`cannot write ${target}: ${reason}`);
    this.name = 'OutputError';
  }
}

function describe(actual: unknown): string {
  if (typeof actual === 'string') return JSON.stringify(actual);
  if (actual === undefined) return 'nothing';
  if (Array.isArray(actual)) return `[${actual.map(describe).join(', ')}]`;
  if (typeof actual === 'number' && !Number.isFinite(actual)) return String(actual);
  if (typeof actual === 'object' && actual !== null) return JSON.stringify(actual);
  return String(actual);
}

/**
 * The one message format for a bad option: `Expected <expected> for <name> but received <actual>`.
 * Every option check in the library goes through here so users learn one shape of error.
 */
export function invalidParameterError(name: string, expected: string, actual: unknown): UsageError {
  return new UsageError(`Expected ${expected} for ${name} but received ${describe(actual)}`, name);
}

/** Edit distance counting a swap of neighbours as one edit (typos like "stpes"), for did-you-mean. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest valid name when it is plausibly a typo, else undefined. */
export function didYouMean(name: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of valid) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** "unknown layer "nope"; valid layers: a, b, c" plus a did-you-mean when one is close. */
export function unknownNameError(kind: string, name: string, valid: readonly string[]): UsageError {
  const suggestion = didYouMean(name, valid);
  const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
  return new UsageError(`unknown ${kind} "${name}"${hint}; valid ${kind}s: ${valid.join(', ')}`);
}
