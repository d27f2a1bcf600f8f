/**
 * Bilinear resampling through a 2x2 matrix about the image centre: output pixel p takes the input at
 * centre + M (p - centre), clamped to the border. Random scale and rotation are this with their own
 * M; the adjoint scatters each output gradient back onto the four pixels it was read from.
 */
import type { AppliedTransform, ImageShape } from './transform.js';

export type Matrix2 = readonly [number, number, number, number];

/** Four source indices and weights per output pixel, flat: pixel p's taps are [4p, 4p + 4). */
interface Taps {
  index: Int32Array;
  weight: Float32Array;
}

function taps(h: number, w: number, m: Matrix2): Taps {
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const index = new Int32Array(4 * h * w);
  const weight = new Float32Array(4 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = Math.min(Math.max(cy + m[0] * (y - cy) + m[1] * (x - cx), 0), h - 1);
      const v = Math.min(Math.max(cx + m[2] * (y - cy) + m[3] * (x - cx), 0), w - 1);
      const y0 = Math.floor(u);
      const x0 = Math.floor(v);
      const y1 = Math.min(y0 + 1, h - 1);
      const x1 = Math.min(x0 + 1, w - 1);
      const fy = u - y0;
      const fx = v - x0;
      const t = 4 * (y * w + x);
      index[t] = y0 * w + x0;
      index[t + 1] = y0 * w + x1;
      index[t + 2] = y1 * w + x0;
      index[t + 3] = y1 * w + x1;
      weight[t] = (1 - fy) * (1 - fx);
      weight[t + 1] = (1 - fy) * fx;
      weight[t + 2] = fy * (1 - fx);
      weight[t + 3] = fy * fx;
    }
  }
  return { index, weight };
}

/** One matrix per batch image. */
export function affine(shape: ImageShape, matrices: readonly Matrix2[]): AppliedTransform {
  const { n, height: h, width: w, channels: c } = shape;
  const plane = h * w;
  const perImage = matrices.slice(0, n).map((m) => taps(h, w, m));
  return {
    input: shape,
    output: shape,
    forward(x) {
      const out = new Float32Array(x.length);
      for (let b = 0; b < n; b++) {
        const t = perImage[b]!;
        const base = b * plane * c;
        for (let p = 0; p < plane; p++) {
          for (let k = 0; k < c; k++) {
            let sum = 0;
            for (let j = 4 * p; j < 4 * p + 4; j++) sum += t.weight[j]! * x[base + t.index[j]! * c + k]!;
            out[base + p * c + k] = sum;
          }
        }
      }
      return out;
    },
    adjoint(g) {
      const out = new Float32Array(g.length);
      for (let b = 0; b < n; b++) {
        const t = perImage[b]!;
        const base = b * plane * c;
        for (let p = 0; p < plane; p++) {
          for (let k = 0; k < c; k++) {
            const v = g[base + p * c + k]!;
            for (let j = 4 * p; j < 4 * p + 4; j++) out[base + t.index[j]! * c + k] += t.weight[j]! * v;
          }
        }
      }
      return out;
    },
  };
}
