/**
 * The frozen table of modes: `ascend.mode` in a pipeline names one of these. Adding a mode is one
 * folder under src/modes/ (schema, job, run) and one line here; docs/ARCHITECTURE.md walks through it.
 */
import { unknownNameError } from '../errors.js';
import type { Mode } from '../run/mode.js';
import { dreamMode } from './dream/index.js';
import { filtersMode } from './filters/index.js';
import { activationsMode } from './activations/index.js';
import { attributeMode } from './attribute/index.js';
import { examplesMode } from './examples/index.js';

export const MODES: Readonly<Record<string, Mode<any>>> = Object.freeze({
  filters: filtersMode,
  dream: dreamMode,
  activations: activationsMode,
  attribute: attributeMode,
  examples: examplesMode,
});

export const MODE_NAMES: readonly string[] = Object.freeze(Object.keys(MODES));

/** The mode a pipeline runs when `ascend.mode` is not given. */
export const DEFAULT_MODE = 'filters';

export function getMode(name: string): Mode<any> {
  const mode = MODES[name];
  if (!mode) throw unknownNameError('mode', name, MODE_NAMES);
  return mode;
}
