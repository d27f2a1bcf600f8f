/** PSNR/SSIM of zero-filled input and of the network's output against the fully sampled target. */
import { tf, type LayersModel } from '../tf.js';
import { cartesianMask, dataConsistent, psnr, ssim, undersample, zeroFilled } from '../mri/index.js';
import { InputError } from '../errors.js';
import { keyedRng } from '../random.js';
import { resize } from '../ascent/resample.js';
import { parseInputSpec } from '../io/input-spec.js';
import { readImage } from '../io/read.js';
import { toGray } from '../io/image.js';
import { percentileWindow } from '../io/intensity.js';
import { areaReduce } from './augment.js';
import { makeExample, type UndersamplingOptions } from './dataset.js';
import type { ScoredImage } from './eval-images.js';

export interface QualityPair {
  psnr: number;
  ssim: number;
}

export interface EvalReport {
  n: number;
  size: number;
  acceleration: number;
  zeroFilled: QualityPair;
  network: QualityPair;
  gain: QualityPair;
  /** With data consistency: the network's output with the measured k-space lines put back, and its gain. */
  dataConsistent?: QualityPair;
  dataConsistentGain?: QualityPair;
}

/**
 * Runs the model on a batch of single-channel images (N*H*W floats), in chunks to bound memory.
 * A residual model predicts the aliasing to remove: its reconstruction is input + output.
 */
export function predictImages(model: LayersModel, images: Float32Array, n: number, height: number, width: number, residual = false, chunk = 8): Float32Array {
  const out = new Float32Array(images.length);
  const pixels = height * width;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    const y = tf.tidy(() => model.predict(tf.tensor4d(images.subarray(i * pixels, (i + m) * pixels), [m, height, width, 1])) as tf.Tensor);
    out.set(y.dataSync() as Float32Array, i * pixels);
    y.dispose();
  }
  if (residual) for (let k = 0; k < out.length; k++) out[k]! += images[k]!;
  return out;
}

export interface ImagePairs {
  inputs: Float32Array;
  targets: Float32Array;
  n: number;
  height: number;
  width: number;
  /** Each pair's sampling mask: given, the scores include the data-consistent reconstruction. */
  masks?: Uint8Array[];
}

/** The network's output with the target's k-space restored on the mask's lines (retrospective: the target is what was measured). */
function consistent(target: Float32Array, network: Float32Array, width: number, height: number, mask: Uint8Array): Float32Array {
  return dataConsistent(network, width, height, undersample(target, width, height, mask), mask);
}

/** Quality of inputs and outputs against targets; data range 1 (targets live in [0, 1]). */
export function scorePairs(model: LayersModel, pairs: ImagePairs, residual = false): Omit<EvalReport, 'size' | 'acceleration'> {
  const { n, height, width } = pairs;
  const outputs = predictImages(model, pairs.inputs, n, height, width, residual);
  const pixels = height * width;
  const sums = { zp: 0, zs: 0, np: 0, ns: 0, dp: 0, ds: 0 };
  for (let i = 0; i < n; i++) {
    const t = pairs.targets.subarray(i * pixels, (i + 1) * pixels);
    const zf = pairs.inputs.subarray(i * pixels, (i + 1) * pixels);
    const net = outputs.subarray(i * pixels, (i + 1) * pixels);
    sums.zp += psnr(t, zf, 1);
    sums.zs += ssim(t, zf, width, height, { dataRange: 1 });
    sums.np += psnr(t, net, 1);
    sums.ns += ssim(t, net, width, height, { dataRange: 1 });
    const mask = pairs.masks?.[i];
    if (mask) {
      const dc = consistent(t, net, width, height, mask);
      sums.dp += psnr(t, dc, 1);
      sums.ds += ssim(t, dc, width, height, { dataRange: 1 });
    }
  }
  const zeroFilled = { psnr: sums.zp / n, ssim: sums.zs / n };
  const network = { psnr: sums.np / n, ssim: sums.ns / n };
  const report: Omit<EvalReport, 'size' | 'acceleration'> = { n, zeroFilled, network, gain: { psnr: network.psnr - zeroFilled.psnr, ssim: network.ssim - zeroFilled.ssim } };
  if (pairs.masks) {
    report.dataConsistent = { psnr: sums.dp / n, ssim: sums.ds / n };
    report.dataConsistentGain = { psnr: report.dataConsistent.psnr - zeroFilled.psnr, ssim: report.dataConsistent.ssim - zeroFilled.ssim };
  }
  return report;
}

/** Held-out phantoms (split `test`, never seen in training or validation). */
export function evaluatePhantoms(model: LayersModel, options: { n: number; size: number; seed: number; residual?: boolean; dataConsistency?: boolean } & UndersamplingOptions): EvalReport {
  const pixels = options.size * options.size;
  const batch = { inputs: new Float32Array(options.n * pixels), targets: new Float32Array(options.n * pixels), n: options.n, height: options.size, width: options.size };
  const masks: Uint8Array[] = [];
  // The examples makeBatch makes, kept one by one for their masks (data consistency needs what was sampled).
  for (let i = 0; i < options.n; i++) {
    const ex = makeExample(options.size, options.seed, 'test', i, options);
    batch.inputs.set(ex.input, i * pixels);
    batch.targets.set(ex.target, i * pixels);
    masks.push(ex.mask!);
  }
  const scored = scorePairs(model, { ...batch, ...(options.dataConsistency ? { masks } : {}) }, options.residual);
  return { ...scored, size: options.size, acceleration: options.acceleration };
}

export interface ImageEval {
  input: string;
  /** How the image was brought to the model's grid. */
  note: string;
  zeroFilled: QualityPair;
  network: QualityPair;
  dataConsistent?: QualityPair;
}

/**
 * An image on the size x size acquisition grid without changing its aspect: centred on a zero
 * background at integer offsets (no resampling) when it fits, else first shrunk to fit (k x k block
 * means, then bilinear) and padded.
 */
export function padToGrid(image: { data: Float32Array; width: number; height: number }, size: number): { data: Float32Array; note: string } {
  let src = { data: image.data, width: image.width, height: image.height };
  let note = image.width === size && image.height === size ? `${size}x${size} as is` : `${image.width}x${image.height} padded to ${size}x${size}`;
  if (src.width > size || src.height > size) {
    const scale = size / Math.max(src.width, src.height);
    const width = Math.max(1, Math.round(src.width * scale));
    const height = Math.max(1, Math.round(src.height * scale));
    const k = Math.floor(1 / scale);
    const reduced = k > 1 ? areaReduce(src, k) : src;
    src = { ...resize({ ...reduced, channels: 1 }, width, height) };
    note = `${image.width}x${image.height} shrunk to ${width}x${height} and padded to ${size}x${size}`;
  }
  const out = new Float32Array(size * size);
  const x0 = Math.floor((size - src.width) / 2);
  const y0 = Math.floor((size - src.height) / 2);
  for (let y = 0; y < src.height; y++) out.set(src.data.subarray(y * src.width, (y + 1) * src.width), (y0 + y) * size + x0);
  return { data: out, note };
}

/**
 * Retrospective undersampling of the user's own images: each is made grey, windowed to [0, 1]
 * (0.5-99.5 percentiles), padded to size x size (padToGrid), undersampled with a random mask and
 * reconstructed.
 */
export async function evaluateImages(
  model: LayersModel,
  files: string[],
  options: { size: number; seed: number; residual?: boolean; dataConsistency?: boolean } & UndersamplingOptions,
): Promise<EvalReport & { images: ImageEval[]; failed: { input: string; error: string }[]; scored: ScoredImage[] }> {
  const size = options.size;
  const pixels = size * size;
  const images: ImageEval[] = [];
  const failed: { input: string; error: string }[] = [];
  const targets: Float32Array[] = [];
  const inputs: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  for (const [i, file] of files.entries()) {
    try {
      const spec = parseInputSpec(file);
      const raw = await readImage(spec.path, spec.read);
      const gray = raw.channels === 1 ? raw : toGray(raw);
      const { image } = percentileWindow(gray);
      const { data: target, note } = padToGrid(image, size);
      const mask = cartesianMask({ width: size, height: size, ...options, rng: keyedRng(options.seed, 'eval-image', i) });
      targets.push(target);
      masks.push(mask);
      inputs.push(zeroFilled(target, size, size, mask));
      images.push({ input: file, note, zeroFilled: { psnr: 0, ssim: 0 }, network: { psnr: 0, ssim: 0 } });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      failed.push({ input: file, error: err.message });
    }
  }
  const n = images.length;
  if (n === 0) return { n: 0, size, acceleration: options.acceleration, zeroFilled: { psnr: NaN, ssim: NaN }, network: { psnr: NaN, ssim: NaN }, gain: { psnr: NaN, ssim: NaN }, images, failed, scored: [] };
  const all = { inputs: new Float32Array(n * pixels), targets: new Float32Array(n * pixels), n, height: size, width: size };
  inputs.forEach((x, i) => all.inputs.set(x, i * pixels));
  targets.forEach((t, i) => all.targets.set(t, i * pixels));
  const outputs = predictImages(model, all.inputs, n, size, size, options.residual);
  const scored: ScoredImage[] = [];
  for (let i = 0; i < n; i++) {
    const t = all.targets.subarray(i * pixels, (i + 1) * pixels);
    const zf = all.inputs.subarray(i * pixels, (i + 1) * pixels);
    const net = outputs.subarray(i * pixels, (i + 1) * pixels);
    images[i]!.zeroFilled = { psnr: psnr(t, zf, 1), ssim: ssim(t, zf, size, size, { dataRange: 1 }) };
    images[i]!.network = { psnr: psnr(t, net, 1), ssim: ssim(t, net, size, size, { dataRange: 1 }) };
    const dc = options.dataConsistency ? consistent(t, net, size, size, masks[i]!) : undefined;
    if (dc) images[i]!.dataConsistent = { psnr: psnr(t, dc, 1), ssim: ssim(t, dc, size, size, { dataRange: 1 }) };
    scored.push({ input: images[i]!.input, size, target: t, zeroFilled: zf, network: net, ...(dc ? { dataConsistent: dc } : {}) });
  }
  const mean = (f: (e: ImageEval) => number) => images.reduce((s, e) => s + f(e), 0) / n;
  const zeroFilledQ = { psnr: mean((e) => e.zeroFilled.psnr), ssim: mean((e) => e.zeroFilled.ssim) };
  const network = { psnr: mean((e) => e.network.psnr), ssim: mean((e) => e.network.ssim) };
  const gain = { psnr: network.psnr - zeroFilledQ.psnr, ssim: network.ssim - zeroFilledQ.ssim };
  const report = { n, size, acceleration: options.acceleration, zeroFilled: zeroFilledQ, network, gain, images, failed, scored };
  if (!options.dataConsistency) return report;
  const dataConsistentQ = { psnr: mean((e) => e.dataConsistent!.psnr), ssim: mean((e) => e.dataConsistent!.ssim) };
  return { ...report, dataConsistent: dataConsistentQ, dataConsistentGain: { psnr: dataConsistentQ.psnr - zeroFilledQ.psnr, ssim: dataConsistentQ.ssim - zeroFilledQ.ssim } };
}
