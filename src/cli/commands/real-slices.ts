/** What the real-slice commands (activations, attribute, examples) share: flags every one of them has. */
import type { Argv } from 'yargs';
import { COMMON_FLAGS } from '../options.js';

/** Config paths the shared flags set, for messages that name the flag. */
export const REAL_SLICE_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  ...COMMON_FLAGS,
  'seed.inputs': 'INPUTS',
  'seed.include': '--include',
  'seed.window': '--window',
});

/** --include and --window: how inputs are found and windowed. */
export function withSliceOptions<T>(yargs: Argv<T>): Argv<T> {
  return yargs
    .option('include', { type: 'string', describe: 'glob filter for folders, e.g. "*.dcm"' })
    .option('window', { type: 'string', describe: 'input percentiles LOW,HIGH mapped to [0, 1] (default 0.5,99.5)' }) as Argv<T>;
}

/** `LOW,HIGH` as numbers; anything else goes through as NaNs so the schema names the problem. */
export function windowOption(text: string | undefined): unknown {
  return text === undefined ? undefined : text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
}
