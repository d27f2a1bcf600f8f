/**
 * Output file names that never collide: one input's outputs never overwrite another's. The caller (a batch run)
 * plans every input's outputs first, then asks for the names.
 *
 * A name is the input's base name (extension removed; `.nii.gz` counts as one), its sub-folder under the folder it
 * was found in, and the suffix the caller gives each output ('.png', '-0003.dcm', '-t1.nii.gz'). Where two inputs
 * would produce the same name (compared case-insensitively, for case-insensitive file systems): `a.png` and
 * `a.jpg`, `x.nii` and `x.nii.gz`, `m-0003.dcm` and frame 3 of `m.dcm`, each of them gets its own extension in the
 * name (`a-png.png`, `a-jpg.png`; `m-0003-dcm.dcm`, `m-dcm-0003.dcm`); anything still equal (the same name given
 * twice from two folders) gets `-2`, `-3`, ... in input order. The result depends only on the plan, so a resumed run
 * finds the same names.
 */
import path from 'node:path';

export interface OutputPlan {
  /** The input file. */
  input: string;
  /** The folder the input was discovered under (its sub-folder there is kept); absent for a file named directly. */
  root?: string;
  /** What follows the base name, one per output file of this input: '.png', '-0003.dcm', '-t1.nii.gz'. */
  outputs: readonly string[];
}

/** Base name and extension of a file: 'x.nii.gz' -> ['x', 'nii.gz'], 'a.png' -> ['a', 'png'], 'README' -> ['README', '']. */
export function splitExtension(file: string): [string, string] {
  const name = path.basename(file);
  const gz = /^(.+)\.(nii\.gz)$/i.exec(name);
  if (gz) return [gz[1]!, gz[2]!];
  const dot = name.lastIndexOf('.');
  return dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [name, ''];
}

/** The sub-folder of INPUT under ROOT, '/'-separated ('' for none). */
function subFolder(input: string, root: string | undefined): string {
  if (root === undefined) return '';
  const rel = path.relative(root, path.dirname(input));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return '';
  return rel.split(path.sep).join('/');
}

/** The suffix naming one volume of a 4-D input: '-t1'. */
export function volumeSuffix(volume: number): string {
  return `-t${volume}`;
}

/** Relative output names ('/'-separated), one list per plan, unique across all of them. */
export function uniqueOutputNames(plans: readonly OutputPlan[]): string[][] {
  const parts = plans.map((p) => {
    const [base, ext] = splitExtension(p.input);
    const folder = subFolder(p.input, p.root);
    return { folder, base, ext: ext.replace(/\./g, '-') };
  });
  const build = (i: number, tagged: boolean, n: number) => {
    const { folder, base, ext } = parts[i]!;
    const stem = `${base}${tagged && ext !== '' ? `-${ext}` : ''}${n > 1 ? `-${n}` : ''}`;
    return plans[i]!.outputs.map((suffix) => (folder === '' ? '' : `${folder}/`) + stem + suffix);
  };
  const key = (name: string) => name.toLowerCase();
  const collidingInputs = (names: string[][]) => {
    const owners = new Map<string, Set<number>>();
    names.forEach((list, i) => list.forEach((n) => owners.set(key(n), (owners.get(key(n)) ?? new Set()).add(i))));
    const out = new Set<number>();
    for (const set of owners.values()) if (set.size > 1) for (const i of set) out.add(i);
    return out;
  };
  // Pass 1: plain names; pass 2: the colliding inputs carry their extension.
  let names = plans.map((_, i) => build(i, false, 1));
  const tagged = collidingInputs(names);
  names = plans.map((_, i) => build(i, tagged.has(i), 1));
  // Pass 3: anything still taken gets a counter, in input order.
  const taken = new Set<string>();
  return names.map((list, i) => {
    let n = 1;
    let candidate = list;
    while (candidate.some((name) => taken.has(key(name))) || new Set(candidate.map(key)).size !== candidate.length) {
      n++;
      candidate = build(i, tagged.has(i), n);
      if (n > plans.length + 1) break; // an input's own outputs repeat a name: the caller's suffixes are not unique
    }
    candidate.forEach((name) => taken.add(key(name)));
    return candidate;
  });
}
