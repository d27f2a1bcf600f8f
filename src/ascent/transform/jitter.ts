/**
 * Jitter: a random circular shift of up to `max` pixels in y and x, per image. Circular because the
 * spectral parameterisation's images are periodic, so the shift adds no seam; its adjoint is the
 * opposite shift.
 */
import { fromTaps, uniformInt, type AppliedTransform, type ImageShape, type Taps, type Transform } from './transform.js';

export function roll(x: Float32Array, shape: ImageShape, shifts: readonly (readonly [number, number])[]): Float32Array {
  const { n, height: h, width: w, channels: c } = shape;
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    const [dy, dx] = shifts[b]!;
    const base = b * h * w * c;
    for (let y = 0; y < h; y++) {
      const ty = (((y + dy) % h) + h) % h;
      for (let xx = 0; xx < w; xx++) {
        const tx = (((xx + dx) % w) + w) % w;
        const from = base + (y * w + xx) * c;
        const to = base + (ty * w + tx) * c;
        for (let k = 0; k < c; k++) out[to + k] = x[from + k]!;
      }
    }
  }
  return out;
}

/** Taps of a circular shift by (dy, dx): output pixel (y + dy, x + dx) reads (y, x). */
function rollTaps(h: number, w: number, dy: number, dx: number): Taps {
  const index = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    const ty = (((y + dy) % h) + h) % h;
    for (let x = 0; x < w; x++) index[ty * w + ((((x + dx) % w) + w) % w)] = y * w + x;
  }
  return { perPixel: 1, index, weight: new Float32Array(h * w).fill(1) };
}

export function jitter(max: number): Transform {
  return {
    name: `jitter(${max})`,
    sample(shape, rngs): AppliedTransform {
      const shifts = rngs.slice(0, shape.n).map((r) => [uniformInt(r, max), uniformInt(r, max)] as const);
      return fromTaps(shape, shape, shifts.map(([dy, dx]) => rollTaps(shape.height, shape.width, dy, dx)));
    },
  };
}
