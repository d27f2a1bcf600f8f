/**
 * Input specs name a file and optionally one slice of it: `scan.nii.gz#z=40` (slice 40 along z),
 * `series.dcm#frame=3`, `stack.tif#page=2`. Everything after the last `#` is the selector.
 *
 * Only what the user typed is parsed (`parseInputSpec`). A file found by walking a folder is taken by its name as
 * it is (`discoveredInput`): a `#` in a file name never selects a slice.
 */
import { invalidParameterError } from '../errors.js';
import type { ReadOptions } from './read.js';

export interface InputSpec {
  path: string;
  read: ReadOptions;
  /** The spec as written, for messages and manifests. */
  text: string;
}

export function parseInputSpec(text: string): InputSpec {
  const hash = text.lastIndexOf('#');
  if (hash < 0) return { path: text, read: {}, text };
  const selector = text.slice(hash + 1);
  const match = /^(x|y|z|frame|slice|page)=(\d+)$/.exec(selector);
  if (!match) throw invalidParameterError('input slice selector', '#z=N, #x=N, #y=N, #frame=N, #slice=N or #page=N', `#${selector}`);
  const index = Number(match[2]);
  const axis = match[1] === 'x' || match[1] === 'y' || match[1] === 'z' ? match[1] : undefined;
  return { path: text.slice(0, hash), read: { slice: index, ...(axis ? { axis } : {}) }, text };
}

/** A file found by walking a folder: its name is the path, whatever characters it holds (a `#` included). */
export function discoveredInput(file: string): InputSpec {
  return { path: file, read: {}, text: file };
}
