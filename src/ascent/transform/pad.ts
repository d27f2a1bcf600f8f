/**
 * Pad: mirror-reflect `amount` pixels onto every side (numpy's 'reflect'), so the network's own zero
 * padding sits away from the image and no constant border adds edges of its own. The adjoint folds
 * the border's gradient back onto the pixels it copied.
 */
import { fromTaps, type AppliedTransform, type ImageShape, type Taps, type Transform } from './transform.js';

/** Index into [0, n) of position i under repeated mirror reflection without repeating the edge. */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** The source pixel of each padded pixel, per (size, amount): the same for every step and image. */
const PAD_TAPS = new Map<string, Taps>();

function padTaps(h: number, w: number, amount: number): Taps {
  const key = `${h}x${w}+${amount}`;
  let taps = PAD_TAPS.get(key);
  if (!taps) {
    const H = h + 2 * amount;
    const W = w + 2 * amount;
    const index = new Int32Array(H * W);
    for (let y = 0; y < H; y++) {
      const sy = reflectIndex(y - amount, h);
      for (let x = 0; x < W; x++) index[y * W + x] = sy * w + reflectIndex(x - amount, w);
    }
    taps = { perPixel: 1, index, weight: new Float32Array(H * W).fill(1) };
    if (PAD_TAPS.size > 64) PAD_TAPS.clear();
    PAD_TAPS.set(key, taps);
  }
  return taps;
}

export function pad(amount: number): Transform {
  return {
    name: `pad(${amount})`,
    sample(shape): AppliedTransform {
      const { n, height: h, width: w, channels: c } = shape;
      const output: ImageShape = { n, height: h + 2 * amount, width: w + 2 * amount, channels: c };
      const taps = padTaps(h, w, amount);
      return fromTaps(shape, output, Array.from({ length: n }, () => taps));
    },
  };
}
