/**
 * Augmentation for real MR slices, drawn from a keyed Rng so a resumed run sees the same images: the
 * slice is placed on the size x size acquisition grid (zero outside, as a padded image is) at a random
 * zoom, with a random flip, 90-degree rotation, a small affine warp (rotation, anisotropic scale,
 * shear) and shift, then its intensities are scaled and gamma-adjusted a little. Every geometric step
 * is one affine map, so the slice is resampled once (bilinear).
 */
import type { Rng } from '../random.js';
import type { SliceImage } from './volumes.js';

export interface AugmentOptions {
  /** The slice's longer side covers between zoom[0] and zoom[1] of the grid. */
  zoom: [number, number];
  /** Largest in-plane rotation of the affine warp, degrees (on top of the 90-degree rotations). */
  maxRotation: number;
  /** Largest relative scale change per axis and largest shear of the warp. */
  maxScale: number;
  maxShear: number;
  /** Intensity scale in [intensity[0], 1] and gamma in [1/gamma, gamma]. */
  intensity: number;
  gamma: number;
  flips: boolean;
  /**
   * Largest Gaussian blur sigma, in grid pixels (0: none). Real inputs come smooth as often as sharp (a 2 mm
   * template, an interpolated scan); a slice shrunk onto the grid is always sharp. Half the slices get a blur of
   * sigma uniform in (0, maxBlur].
   */
  maxBlur?: number;
}

/** What the shipped MR model used; `--no-augment` turns the random parts off (fixed zoom, no warp). */
export const DEFAULT_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ zoom: [0.3, 1] as [number, number], maxRotation: 10, maxScale: 0.08, maxShear: 0.05, intensity: 0.8, gamma: 1.25, flips: true });

/** The affine map from grid pixels to slice pixels, plus intensity changes. */
export interface Placement {
  /** slice (x, y) = m * (grid (u, v) - grid centre) + slice centre + (tx, ty). */
  m: [number, number, number, number];
  tx: number;
  ty: number;
  scale: number;
  gamma: number;
  /** Gaussian blur sigma in grid pixels applied after resampling (0 or absent: none). */
  blur?: number;
}

/** No augmentation: the slice fitted to `zoom` of the grid, centred, upright. */
export function fixedPlacement(slice: { width: number; height: number }, size: number, zoom = 0.9): Placement {
  const s = Math.max(slice.width, slice.height) / (zoom * size);
  return { m: [s, 0, 0, s], tx: 0, ty: 0, scale: 1, gamma: 1 };
}

export function randomPlacement(slice: { width: number; height: number }, size: number, rng: Rng, o: AugmentOptions): Placement {
  const uniform = (a: number, b: number) => a + (b - a) * rng.next();
  const zoom = uniform(o.zoom[0], o.zoom[1]);
  const s = Math.max(slice.width, slice.height) / (zoom * size);
  const quarterTurns = o.flips ? rng.int(4) : 0;
  const flip = o.flips && rng.next() < 0.5 ? -1 : 1;
  const angle = (uniform(-o.maxRotation, o.maxRotation) * Math.PI) / 180 + (quarterTurns * Math.PI) / 2;
  const sx = s * (1 + uniform(-o.maxScale, o.maxScale));
  const sy = s * (1 + uniform(-o.maxScale, o.maxScale));
  const shear = uniform(-o.maxShear, o.maxShear);
  const c = Math.cos(angle);
  const n = Math.sin(angle);
  // m = R(angle) * [[sx, shear*sx], [0, sy]] * diag(flip, 1)
  const a = sx * flip;
  const b = shear * sx;
  const d = sy;
  const m: [number, number, number, number] = [c * a, c * b - n * d, n * a, n * b + c * d];
  // Shift within the room the zoom leaves, so small slices land anywhere on the grid.
  const room = Math.max(0, (1 - zoom) * size * s) / 2;
  const placement: Placement = { m, tx: uniform(-room, room), ty: uniform(-room, room), scale: uniform(o.intensity, 1), gamma: Math.exp(uniform(-Math.log(o.gamma), Math.log(o.gamma))) };
  // Drawn last and only when asked for, so runs without blur see the same stream as before it existed.
  if (o.maxBlur && o.maxBlur > 0 && rng.next() < 0.5) placement.blur = o.maxBlur * (1 - rng.next());
  return placement;
}

/**
 * Resamples a slice (values already normalised to [0, 1]) onto the size x size grid through the
 * placement; grid pixels that map outside the slice are 0.
 */
export function place(source: SliceImage, size: number, p: Placement): Float32Array {
  // Shrinking by k or more would skip pixels (aliasing the anatomy): average k x k blocks first.
  const shrink = Math.min(Math.hypot(p.m[0], p.m[2]), Math.hypot(p.m[1], p.m[3]));
  const k = Math.max(1, Math.floor(shrink));
  const slice = k > 1 ? areaReduce(source, k) : source;
  const out = new Float32Array(size * size);
  const { width: w, height: h, data } = slice;
  const [m00, m01, m10, m11] = p.m.map((x) => x / k) as [number, number, number, number];
  const cx = (w - 1) / 2 + p.tx / k;
  const cy = (h - 1) / 2 + p.ty / k;
  const g = (size - 1) / 2;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const x = m00 * (u - g) + m01 * (v - g) + cx;
      const y = m10 * (u - g) + m11 * (v - g) + cy;
      if (x < -0.5 || y < -0.5 || x > w - 0.5 || y > h - 0.5) continue;
      const x0 = Math.max(0, Math.min(w - 1, Math.floor(x)));
      const y0 = Math.max(0, Math.min(h - 1, Math.floor(y)));
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = Math.max(0, Math.min(1, x - x0));
      const fy = Math.max(0, Math.min(1, y - y0));
      const top = data[y0 * w + x0]! * (1 - fx) + data[y0 * w + x1]! * fx;
      const bottom = data[y1 * w + x0]! * (1 - fx) + data[y1 * w + x1]! * fx;
      out[v * size + u] = top * (1 - fy) + bottom * fy;
    }
  }
  if (p.blur && p.blur > 0) gaussianBlur(out, size, p.blur);
  for (let i = 0; i < out.length; i++) {
    const value = out[i]!;
    out[i] = p.gamma === 1 ? value * p.scale : Math.pow(Math.max(0, value), p.gamma) * p.scale;
  }
  return out;
}

/** Separable Gaussian blur of a size x size image in place, kernel cut at 3 sigma, edges clamped. */
export function gaussianBlur(image: Float32Array, size: number, sigma: number): void {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += kernel[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  const tmp = new Float32Array(image.length);
  const clamp = (x: number) => (x < 0 ? 0 : x >= size ? size - 1 : x);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += kernel[i + r]! * image[y * size + clamp(x + i)]!;
      tmp[y * size + x] = acc;
    }
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += kernel[i + r]! * tmp[clamp(y + i) * size + x]!;
      image[y * size + x] = acc;
    }
}

/** Means of k x k blocks (a partial block at the edge averages what it has). */
export function areaReduce(slice: SliceImage, k: number): SliceImage {
  const width = Math.ceil(slice.width / k);
  const height = Math.ceil(slice.height / k);
  const sums = new Float32Array(width * height);
  const counts = new Float32Array(width * height);
  for (let y = 0; y < slice.height; y++) {
    const row = Math.floor(y / k) * width;
    for (let x = 0; x < slice.width; x++) {
      const i = row + Math.floor(x / k);
      sums[i]! += slice.data[y * slice.width + x]!;
      counts[i]!++;
    }
  }
  for (let i = 0; i < sums.length; i++) sums[i]! /= counts[i]!;
  return { data: sums, width, height };
}
