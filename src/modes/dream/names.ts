/**
 * Output stems of a dream run, planned for every input before any runs, so no two inputs ever write the same
 * file and a resumed run finds the same names. A stem is the input's base name under its sub-folder, plus the
 * slice the user selected ('scan-z40'); a job then adds what only reading tells: a picked volume ('-t1') and
 * the index of each of several outputs ('-0003', '-t1-0003').
 *
 * `uniqueOutputNames` (src/io/output-names.ts) makes the stems unique (a.png / a.jpg -> a-png / a-jpg). A stem
 * can still be another stem plus what a job appends: 'm-0003' (from m-0003.dcm) is also frame 3 of 'm' (m.dcm).
 * Such an input is planned with that output too, so both get their extension in the name: m-0003-dcm,
 * m-dcm(-0003).
 */
import type { InputSpec } from '../../io/input-spec.js';
import { uniqueOutputNames } from '../../io/output-names.js';

export interface PlannedInput {
  spec: InputSpec;
  /** The folder it was found in (its sub-folder there is kept); absent for a file the user named. */
  root?: string;
}

/** What a job may append to a stem: a slice selector, a volume, an output index. */
const JOB_SUFFIX = /^(-(?:x|y|z|frame|slice|page)\d+)?(-t\d+)?(-\d+)?$/i;

/** The suffix of a slice the user selected: 'scan.nii.gz#z=40' -> '-z40'. */
function selectorSuffix(spec: InputSpec): string {
  return spec.read.slice !== undefined ? `-${spec.read.axis ?? 'slice'}${spec.read.slice}` : '';
}

export function planStems(inputs: readonly PlannedInput[]): string[] {
  const extra: string[][] = inputs.map(() => []);
  let stems: string[] = [];
  // Each round can only add suffixes, and at most one per pair of inputs: a few rounds reach the fixed point.
  for (let round = 0; round <= inputs.length; round++) {
    const names = uniqueOutputNames(inputs.map((x, i) => ({ input: x.spec.path, root: x.root, outputs: [selectorSuffix(x.spec), ...extra[i]!] })));
    stems = names.map((n) => n[0]!);
    const owner = new Map<string, number>();
    stems.forEach((s, i) => owner.set(s.toLowerCase(), i));
    let changed = false;
    stems.forEach((stem, j) => {
      for (let k = stem.indexOf('-', 1); k > 0; k = stem.indexOf('-', k + 1)) {
        const i = owner.get(stem.slice(0, k).toLowerCase());
        const rest = stem.slice(k);
        if (i === undefined || i === j || !JOB_SUFFIX.test(rest)) continue;
        const taken = selectorSuffix(inputs[i]!.spec) + rest;
        if (!extra[i]!.includes(taken)) {
          extra[i]!.push(taken);
          changed = true;
        }
      }
    });
    if (!changed) break;
  }
  return stems;
}
