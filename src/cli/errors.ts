/**
 * The one error handler: an error becomes one line on stderr and an exit code. A typed error (one
 * that carries `exitCode`: UsageError 2, InputError 1, OutputError 2, a worker's job error with its
 * job's code) prints its message; anything else is a bug and says so, with --verbose for the stack.
 */
import { UsageError, renameOption } from '../errors.js';

/** The exit code an error carries, or undefined for an untyped (internal) error. */
function carriedExitCode(err: unknown): number | undefined {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' && Number.isInteger(code) && code > 0 ? code : undefined;
}

export function exitCodeFor(err: unknown): number {
  return carriedExitCode(err) ?? 1;
}

/** The flag of a library option: its kebab-case name (`octaveScale` -> `--octave-scale`). */
export function flagOf(option: string): string {
  // Some library code (train/, mri/) still names the flag itself: keep it.
  return option.startsWith('-') ? option : `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function reportError(err: unknown, verbose: boolean, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  // Library errors name options; the user typed flags. (Pipeline commands rename first, from their own flag tables.)
  const message = err instanceof UsageError && err.option ? renameOption(err, flagOf(err.option)) : err instanceof Error ? err.message : String(err);
  if (verbose && err instanceof Error && err.stack) write(err.stack);
  else if (carriedExitCode(err) !== undefined) for (const line of message.split('\n')) write(`unet-dream: ${line}`);
  else write(`unet-dream: internal error: ${message.split('\n')[0]} (run with --verbose for the stack)`);
  return exitCodeFor(err);
}
