/**
 * Pad: mirror-reflect `amount` pixels onto every side (numpy's 'reflect'), so the network's own zero
 * padding sits away from the image and no constant border adds edges of its own. The adjoint folds
 * the border's gradient back onto the pixels it copied.
 */
import type { AppliedTransform, ImageShape, Transform } from './transform.js';

/** Index into [0, n) of position i under repeated mirror reflection without repeating the edge. */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

export function pad(amount: number): Transform {
  return {
    name: `pad(${amount})`,
    sample(shape): AppliedTransform {
      const { n, height: h, width: w, channels: c } = shape;
      const output: ImageShape = { n, height: h + 2 * amount, width: w + 2 * amount, channels: c };
      const H = output.height;
      const W = output.width;
      // source pixel index (within an image) of each output pixel
      const map = new Int32Array(H * W);
      for (let y = 0; y < H; y++) {
        const sy = reflectIndex(y - amount, h);
        for (let x = 0; x < W; x++) map[y * W + x] = sy * w + reflectIndex(x - amount, w);
      }
      return {
        input: shape,
        output,
        forward(x) {
          const out = new Float32Array(n * H * W * c);
          for (let b = 0; b < n; b++) {
            for (let p = 0; p < H * W; p++) {
              const from = (b * h * w + map[p]!) * c;
              const to = (b * H * W + p) * c;
              for (let k = 0; k < c; k++) out[to + k] = x[from + k]!;
            }
          }
          return out;
        },
        adjoint(g) {
          const out = new Float32Array(n * h * w * c);
          for (let b = 0; b < n; b++) {
            for (let p = 0; p < H * W; p++) {
              const to = (b * h * w + map[p]!) * c;
              const from = (b * H * W + p) * c;
              for (let k = 0; k < c; k++) out[to + k] = out[to + k]! + g[from + k]!;
            }
          }
          return out;
        },
      };
    },
  };
}
