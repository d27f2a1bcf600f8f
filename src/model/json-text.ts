/**
 * JSON parsing for files given as models. A wrong file (a key, a password file, a patient list) must
 * never have its content repeated in an error: V8's SyntaxError quotes the text it choked on, so only
 * the position survives into our messages.
 */
import { InputError } from '../errors.js';

/** ` at byte N` when the parser said where it failed, else ''. Never any of the text. */
export function jsonErrorPosition(err: unknown): string {
  const match = /position (\d+)/.exec(err instanceof Error ? err.message : '');
  return match ? ` (at byte ${match[1]})` : '';
}

/** Parses `text` read from `file`; an InputError naming the file and `expected` otherwise. */
export function parseJsonFile(text: string, file: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(file, `not JSON${jsonErrorPosition(err)}; expected ${expected}`);
  }
}
