/** The one error handler: an error becomes one line on stderr and an exit code (DESIGN §1). */
import { InputError, OutputError, UsageError } from '../errors.js';

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof OutputError) return 2;
  if (err instanceof InputError) return 1;
  return 1;
}

export function reportError(err: unknown, verbose: boolean, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const known = err instanceof UsageError || err instanceof InputError || err instanceof OutputError;
  const message = err instanceof Error ? err.message : String(err);
  if (verbose && err instanceof Error && err.stack) write(err.stack);
  else if (known) for (const line of message.split('\n')) write(`unet-dream: ${line}`);
  else write(`unet-dream: internal error: ${message.split('\n')[0]} (run with --verbose for the stack)`);
  return exitCodeFor(err);
}
