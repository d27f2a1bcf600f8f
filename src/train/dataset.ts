/**
 * Training pairs as the seed made them: a simulated phantom (the target) and the magnitude of its
 * zero-filled reconstruction from undersampled k-space (the input, with coherent aliasing).
 * Each example is keyed by (seed, split, index) so a resumed run sees exactly the data it would have.
 */
import { keyedRng } from '../ascent/random.js';
import { cartesianMask, randomPhantom, zeroFilled, type MaskAxis, type MaskPattern } from '../mri/index.js';

export interface UndersamplingOptions {
  acceleration: number;
  center: number;
  pattern: MaskPattern;
  axis: MaskAxis;
}

export interface Example {
  input: Float32Array;
  target: Float32Array;
}

export function makeExample(size: number, seed: number, split: 'train' | 'val' | 'test', index: number, us: UndersamplingOptions): Example {
  const target = randomPhantom(size, keyedRng(seed, split, 'phantom', index));
  // A new random mask per example (as in the seed's simulation), so the network learns the
  // aliasing of the sampling scheme, not of one mask.
  const mask = cartesianMask({ width: size, height: size, ...us, rng: keyedRng(seed, split, 'mask', index) });
  return { input: zeroFilled(target, size, size, mask), target };
}

export interface ExampleBatch {
  inputs: Float32Array;
  targets: Float32Array;
  n: number;
  size: number;
}

export function makeBatch(size: number, seed: number, split: 'train' | 'val' | 'test', first: number, n: number, us: UndersamplingOptions): ExampleBatch {
  const pixels = size * size;
  const inputs = new Float32Array(n * pixels);
  const targets = new Float32Array(n * pixels);
  for (let i = 0; i < n; i++) {
    const ex = makeExample(size, seed, split, first + i, us);
    inputs.set(ex.input, i * pixels);
    targets.set(ex.target, i * pixels);
  }
  return { inputs, targets, n, size };
}
