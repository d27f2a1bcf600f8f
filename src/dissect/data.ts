/**
 * The images a dissection (or an ablation) runs on: pairs of zero-filled input and fully sampled
 * target, from held-out phantoms (split `test`, as `eval` uses: never seen in training or
 * validation) or from a folder of the user's images, retrospectively undersampled like `eval --images`.
 */
import { promises as fs } from 'node:fs';
import { InputError } from '../errors.js';
import { keyedRng } from '../random.js';
import { resize } from '../ascent/resample.js';
import { cartesianMask, psnr, ssim, zeroFilled } from '../mri/index.js';
import { makeBatch, type UndersamplingOptions } from '../train/dataset.js';
import { parseInputSpec } from '../io/input-spec.js';
import { readImage } from '../io/read.js';
import { toGray } from '../io/image.js';
import { percentileWindow } from '../io/intensity.js';
import { walkInputs } from '../io/walk.js';

export interface PairSet {
  /** Zero-filled magnitudes, n * size * size. */
  inputs: Float32Array;
  /** Fully sampled targets in [0, 1]. */
  targets: Float32Array;
  n: number;
  size: number;
  /** What each image is: `phantom test #i` or the file. */
  names: string[];
  failed: { input: string; error: string }[];
}

export type PairSource = { kind: 'phantoms'; n: number } | { kind: 'folder'; dir: string };

/** The held-out phantoms `eval` scores: split `test`, keyed by seed and index. */
export function heldOutPhantoms(n: number, size: number, seed: number, us: UndersamplingOptions): PairSet {
  const batch = makeBatch(size, seed, 'test', 0, n, us);
  return { inputs: batch.inputs, targets: batch.targets, n, size, names: Array.from({ length: n }, (_, i) => `phantom test #${i}`), failed: [] };
}

/** Every image under `dir`, windowed to [0, 1], resized and undersampled; unreadable files are listed, not fatal. */
export async function folderPairs(dir: string, size: number, seed: number, us: UndersamplingOptions): Promise<PairSet> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InputError(dir, 'not a directory of images');
  const files = await walkInputs(dir);
  const inputs: Float32Array[] = [];
  const targets: Float32Array[] = [];
  const names: string[] = [];
  const failed: { input: string; error: string }[] = [];
  for (const [i, file] of files.entries()) {
    try {
      const spec = parseInputSpec(file);
      const raw = await readImage(spec.path, spec.read);
      const { image } = percentileWindow(raw.channels === 1 ? raw : toGray(raw));
      const target = resize({ data: image.data, width: image.width, height: image.height, channels: 1 }, size, size).data;
      const mask = cartesianMask({ width: size, height: size, ...us, rng: keyedRng(seed, 'dissect-image', i) });
      targets.push(target);
      inputs.push(zeroFilled(target, size, size, mask));
      names.push(file);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      failed.push({ input: file, error: err.message });
    }
  }
  if (names.length === 0) throw new InputError(dir, `no readable images (${failed.length} failed)`);
  const pixels = size * size;
  const all = { inputs: new Float32Array(names.length * pixels), targets: new Float32Array(names.length * pixels) };
  inputs.forEach((x, i) => all.inputs.set(x, i * pixels));
  targets.forEach((t, i) => all.targets.set(t, i * pixels));
  return { ...all, n: names.length, size, names, failed };
}

export async function loadPairs(source: PairSource, size: number, seed: number, us: UndersamplingOptions): Promise<PairSet> {
  return source.kind === 'phantoms' ? heldOutPhantoms(source.n, size, seed, us) : folderPairs(source.dir, size, seed, us);
}

/**
 * PSNR and SSIM of a model's outputs for images [first, first + m) against their targets (m from the
 * output's length); a residual model's output is added to its input first, as `eval` does.
 */
export function reconstructionQuality(pairs: PairSet, first: number, output: Float32Array, residual: boolean): { psnr: number; ssim: number }[] {
  const pixels = pairs.size * pairs.size;
  const out: { psnr: number; ssim: number }[] = [];
  for (let b = 0; b < output.length / pixels; b++) {
    const i = first + b;
    const t = pairs.targets.subarray(i * pixels, (i + 1) * pixels);
    const recon = output.slice(b * pixels, (b + 1) * pixels);
    if (residual) {
      const x = pairs.inputs.subarray(i * pixels, (i + 1) * pixels);
      for (let p = 0; p < pixels; p++) recon[p]! += x[p]!;
    }
    out.push({ psnr: psnr(t, recon, 1), ssim: ssim(t, recon, pairs.size, pairs.size, { dataRange: 1 }) });
  }
  return out;
}
