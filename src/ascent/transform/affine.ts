/**
 * Bilinear resampling through a 2x2 matrix about the image centre: output pixel p takes the input at
 * centre + M (p - centre), clamped to the border. Random scale and rotation are this with their own
 * M; the adjoint scatters each output gradient back onto the four pixels it was read from.
 */
import { fromTaps, type AppliedTransform, type ImageShape, type Taps } from './transform.js';

export type Matrix2 = readonly [number, number, number, number];


/** Four source indices and weights per output pixel: pixel p's taps are [4p, 4p + 4). */
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
  return { perPixel: 4, index, weight };
}

/** One matrix per batch image. */
export function affine(shape: ImageShape, matrices: readonly Matrix2[]): AppliedTransform {
  return fromTaps(shape, shape, matrices.slice(0, shape.n).map((m) => taps(shape.height, shape.width, m)));
}
