/**
 * Training pairs as the seed made them: a simulated phantom (the target) and the magnitude of its
 * zero-filled reconstruction from undersampled k-space (the input, with coherent aliasing).
 * Each example is keyed by (seed, split, index) so a resumed run sees exactly the data it would have.
 */
import { keyedRng } from '../random.js';
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
  /** The centred k-space sampling mask the input was made with (phantoms; real slices may leave it out). */
  mask?: Uint8Array;
}

export function makeExample(size: number, seed: number, split: 'train' | 'val' | 'test', index: number, us: UndersamplingOptions): Example {
  const target = randomPhantom(size, keyedRng(seed, split, 'phantom', index));
  // A new random mask per example (as in the seed's simulation), so the network learns the
  // aliasing of the sampling scheme, not of one mask.
  const mask = cartesianMask({ width: size, height: size, ...us, rng: keyedRng(seed, split, 'mask', index) });
  return { input: zeroFilled(target, size, size, mask), target, mask };
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

/**
 * Training crops: each example is simulated (and undersampled) at `size`, so its aliasing has the
 * geometry of a full-size acquisition, then a random `crop` x `crop` window is cut from input and
 * target alike. The network is fully convolutional, so it trains on crops and runs at full size.
 */
export function makeCropBatch(size: number, crop: number, seed: number, first: number, n: number, us: UndersamplingOptions): ExampleBatch {
  if (crop >= size) return makeBatch(size, seed, 'train', first, n, us);
  const pixels = crop * crop;
  const inputs = new Float32Array(n * pixels);
  const targets = new Float32Array(n * pixels);
  for (let i = 0; i < n; i++) {
    const ex = makeExample(size, seed, 'train', first + i, us);
    const rng = keyedRng(seed, 'train', 'crop', first + i);
    const x0 = rng.int(size - crop + 1);
    const y0 = rng.int(size - crop + 1);
    for (let y = 0; y < crop; y++) {
      const from = (y0 + y) * size + x0;
      inputs.set(ex.input.subarray(from, from + crop), i * pixels + y * crop);
      targets.set(ex.target.subarray(from, from + crop), i * pixels + y * crop);
    }
  }
  return { inputs, targets, n, size: crop };
}
