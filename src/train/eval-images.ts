/**
 * The images `eval --images` scored, written so a reader can check a number by eye: for each input the fully
 * sampled target, the zero-filled input, the network's reconstruction and the difference network - target, as
 * PNGs, plus one float32 .npy ([4, H, W] in that order) with the exact values the PSNR/SSIM were computed on.
 * With data consistency a fifth image, the network's output with the measured k-space restored, is added (PNG,
 * and the .npy's fifth plane).
 *
 * The three grey images share one fixed window, [0, 1] (the range targets are windowed to), so brightness compares
 * across them and across inputs; the difference is shown on a diverging map centred on 0, symmetric at the largest
 * |zero-filled - target| of that image, so a network that removed the aliasing shows a paler map than the
 * zero-filled error would.
 */
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { encodeNpy } from '../io/npy.js';
import { writeFileAtomic } from '../io/atomic.js';
import { splitExtension, uniqueOutputNames } from '../io/output-names.js';
import { parseInputSpec } from '../io/input-spec.js';
import { encodePng } from '../render/sheet.js';
import { renderTile } from '../render/tile.js';

/** What each input's files are called after its base name. */
export const EVAL_IMAGE_SUFFIXES = Object.freeze({
  target: '-target.png',
  zeroFilled: '-zero-filled.png',
  network: '-network.png',
  difference: '-difference.png',
  arrays: '-eval.npy',
  dataConsistent: '-data-consistent.png',
});

export interface ScoredImage {
  /** The input as the user named it (a `#` selector included). */
  input: string;
  size: number;
  target: Float32Array;
  zeroFilled: Float32Array;
  network: Float32Array;
  dataConsistent?: Float32Array;
}

/** Files written for one input, relative to the output folder. */
export type EvalImageFiles = { [K in Exclude<keyof typeof EVAL_IMAGE_SUFFIXES, 'dataConsistent'>]: string } & { dataConsistent?: string };

/** A `#` selector becomes part of the name, so two slices of one volume never share a file. */
function nameSource(input: string): string {
  const spec = parseInputSpec(input);
  if (spec.path === input) return input;
  const selector = input.slice(spec.path.length + 1).replace(/[^A-Za-z0-9]+/g, '');
  const [base, ext] = splitExtension(spec.path);
  return path.join(path.dirname(spec.path), `${base}-${selector}${ext ? `.${ext}` : ''}`);
}

export async function writeEvalImages(dir: string, scored: readonly ScoredImage[]): Promise<EvalImageFiles[]> {
  await fs.mkdir(dir, { recursive: true });
  const suffixes = Object.values(EVAL_IMAGE_SUFFIXES);
  const names = uniqueOutputNames(scored.map((s) => ({ input: nameSource(s.input), outputs: suffixes })));
  const written: EvalImageFiles[] = [];
  for (const [i, s] of scored.entries()) {
    const [target, zeroFilled, network, difference, arrays, dataConsistent] = names[i]!;
    const { size } = s;
    const grey = { low: 0, high: 1 };
    const diff = new Float32Array(s.target.length);
    let limit = 0;
    for (let k = 0; k < diff.length; k++) {
      diff[k] = s.network[k]! - s.target[k]!;
      limit = Math.max(limit, Math.abs(s.zeroFilled[k]! - s.target[k]!));
    }
    if (!(limit > 0)) limit = 1;
    const png = (data: Float32Array, window: { low: number; high: number }, map: string) => encodePng(renderTile(data, size, size, 1, window, map));
    await writeFileAtomic(path.join(dir, target!), await png(s.target, grey, 'gray'));
    await writeFileAtomic(path.join(dir, zeroFilled!), await png(s.zeroFilled, grey, 'gray'));
    await writeFileAtomic(path.join(dir, network!), await png(s.network, grey, 'gray'));
    await writeFileAtomic(path.join(dir, difference!), await png(diff, { low: -limit, high: limit }, 'rdbu'));
    const planes = [s.target, s.zeroFilled, s.network, diff, ...(s.dataConsistent ? [s.dataConsistent] : [])];
    const stack = new Float32Array(planes.length * size * size);
    planes.forEach((a, k) => stack.set(a, k * size * size));
    await writeFileAtomic(path.join(dir, arrays!), encodeNpy(stack, [planes.length, size, size]));
    const files: EvalImageFiles = { target: target!, zeroFilled: zeroFilled!, network: network!, difference: difference!, arrays: arrays! };
    if (s.dataConsistent) {
      await writeFileAtomic(path.join(dir, dataConsistent!), await png(s.dataConsistent, grey, 'gray'));
      files.dataConsistent = dataConsistent!;
    }
    written.push(files);
  }
  return written;
}
