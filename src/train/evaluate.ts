/** PSNR/SSIM of zero-filled input and of the network's output against the fully sampled target. */
import { tf, type LayersModel } from '../engine/tf.js';
import { psnr, ssim } from '../mri/index.js';
import { makeBatch, type UndersamplingOptions } from './dataset.js';

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
}

/** Runs the model on a batch of single-channel images (N*H*W floats), in chunks to bound memory. */
export function predictImages(model: LayersModel, images: Float32Array, n: number, height: number, width: number, chunk = 8): Float32Array {
  const out = new Float32Array(images.length);
  const pixels = height * width;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    const y = tf.tidy(() => model.predict(tf.tensor4d(images.subarray(i * pixels, (i + m) * pixels), [m, height, width, 1])) as tf.Tensor);
    out.set(y.dataSync() as Float32Array, i * pixels);
    y.dispose();
  }
  return out;
}

export interface ImagePairs {
  inputs: Float32Array;
  targets: Float32Array;
  n: number;
  height: number;
  width: number;
}

/** Quality of inputs and outputs against targets; data range 1 (targets live in [0, 1]). */
export function scorePairs(model: LayersModel, pairs: ImagePairs): Omit<EvalReport, 'size' | 'acceleration'> {
  const { n, height, width } = pairs;
  const outputs = predictImages(model, pairs.inputs, n, height, width);
  const pixels = height * width;
  const sums = { zp: 0, zs: 0, np: 0, ns: 0 };
  for (let i = 0; i < n; i++) {
    const t = pairs.targets.subarray(i * pixels, (i + 1) * pixels);
    const zf = pairs.inputs.subarray(i * pixels, (i + 1) * pixels);
    const net = outputs.subarray(i * pixels, (i + 1) * pixels);
    sums.zp += psnr(t, zf, 1);
    sums.zs += ssim(t, zf, width, height, { dataRange: 1 });
    sums.np += psnr(t, net, 1);
    sums.ns += ssim(t, net, width, height, { dataRange: 1 });
  }
  const zeroFilled = { psnr: sums.zp / n, ssim: sums.zs / n };
  const network = { psnr: sums.np / n, ssim: sums.ns / n };
  return { n, zeroFilled, network, gain: { psnr: network.psnr - zeroFilled.psnr, ssim: network.ssim - zeroFilled.ssim } };
}

/** Held-out phantoms (split `test`, never seen in training or validation). */
export function evaluatePhantoms(model: LayersModel, options: { n: number; size: number; seed: number } & UndersamplingOptions): EvalReport {
  const batch = makeBatch(options.size, options.seed, 'test', 0, options.n, options);
  const scored = scorePairs(model, { inputs: batch.inputs, targets: batch.targets, n: batch.n, height: options.size, width: options.size });
  return { ...scored, size: options.size, acceleration: options.acceleration };
}
