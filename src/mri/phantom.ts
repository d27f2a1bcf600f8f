/**
 * Synthetic MR-like images in [0, 1], row-major `width * height` Float32Arrays.
 *
 * Coordinates: pixel (x, y) covers [x, x+1) x [y, y+1), its centre is (x + 0.5, y + 0.5); row 0 is
 * the top of the image.
 */

import { invalidParameterError } from '../errors.js';
import type { Rng } from '../random.js';

export type PhantomSize = number | { width: number; height: number };

export type ShapeKind = 'ellipse' | 'rectangle';

/** One filled shape in pixel units: centre, half-axes along its own axes, rotation in radians. */
export interface Shape {
  kind: ShapeKind;
  cx: number;
  cy: number;
  /** Half-width along the shape's own first axis. */
  rx: number;
  /** Half-height along the shape's own second axis. */
  ry: number;
  /** Rotation of the shape's first axis from +x, in radians (towards +y, i.e. down the image). */
  angle: number;
  /** Intensity painted inside (the shape replaces what is underneath, weighted by coverage). */
  value: number;
}

export interface RandomPhantomOptions {
  /** Fewest shapes inside the body (nested children not counted). Default 3. */
  minShapes?: number;
  /** Most shapes inside the body. Default 8. */
  maxShapes?: number;
  /** Probability that a shape gets a smaller shape of another intensity nested inside. Default 0.4. */
  nestProbability?: number;
  /** Paint a large ellipse or rounded-off rectangle "body" first, like a head or torso. Default true. */
  body?: boolean;
  /** Anti-aliased edges (area coverage from 4x4 supersampling at edge pixels). Default true. */
  antialias?: boolean;
}

function resolveSize(size: PhantomSize): { width: number; height: number } {
  const { width, height } = typeof size === 'number' ? { width: size, height: size } : size;
  if (!Number.isInteger(width) || width < 1) throw invalidParameterError('phantom width', 'a positive integer', width);
  if (!Number.isInteger(height) || height < 1) throw invalidParameterError('phantom height', 'a positive integer', height);
  return { width, height };
}

/** Normalised radius of (px, py) in the shape's frame: <= 1 inside. */
function shapeRadius(s: Shape, cos: number, sin: number, px: number, py: number): number {
  const dx = px - s.cx;
  const dy = py - s.cy;
  const u = (dx * cos + dy * sin) / s.rx;
  const v = (-dx * sin + dy * cos) / s.ry;
  return s.kind === 'ellipse' ? Math.sqrt(u * u + v * v) : Math.max(Math.abs(u), Math.abs(v));
}

const SUPERSAMPLE = 4;

/**
 * Paints one shape with coverage-weighted replacement: v <- v (1 - a) + value a, where a is the
 * fraction of the pixel inside the shape. A pixel whose centre has normalised radius r is at
 * least |r - 1| * min(rx, ry) pixels from the edge (the shape is convex and contains the disc of
 * radius min(rx, ry)), so only pixels closer than half a diagonal are supersampled.
 */
export function paintShape(image: Float32Array, width: number, height: number, s: Shape, antialias = true): void {
  const cos = Math.cos(s.angle);
  const sin = Math.sin(s.angle);
  const reach = Math.hypot(s.rx, s.ry) + 1;
  const x0 = Math.max(0, Math.floor(s.cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(s.cx + reach));
  const y0 = Math.max(0, Math.floor(s.cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(s.cy + reach));
  const minHalf = Math.min(s.rx, s.ry);
  const n = SUPERSAMPLE;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const r = shapeRadius(s, cos, sin, x + 0.5, y + 0.5);
      let a: number;
      if (!antialias || Math.abs(r - 1) * minHalf > Math.SQRT1_2) {
        a = r <= 1 ? 1 : 0;
      } else {
        let inside = 0;
        for (let j = 0; j < n; j++) {
          for (let i = 0; i < n; i++) {
            if (shapeRadius(s, cos, sin, x + (i + 0.5) / n, y + (j + 0.5) / n) <= 1) inside++;
          }
        }
        a = inside / (n * n);
      }
      if (a > 0) {
        const p = y * width + x;
        image[p] = image[p]! * (1 - a) + s.value * a;
      }
    }
  }
}

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/**
 * The shapes {@link randomPhantom} paints, in painting order (for inspection and tests).
 * Sizes scale with min(width, height).
 */
export function randomPhantomShapes(size: PhantomSize, rng: Rng, options: RandomPhantomOptions = {}): Shape[] {
  const { width, height } = resolveSize(size);
  const minShapes = options.minShapes ?? 3;
  const maxShapes = options.maxShapes ?? 8;
  const nestProbability = options.nestProbability ?? 0.4;
  if (!Number.isInteger(minShapes) || minShapes < 0) throw invalidParameterError('minShapes', 'an integer >= 0', minShapes);
  if (!Number.isInteger(maxShapes) || maxShapes < minShapes) {
    throw invalidParameterError('maxShapes', `an integer >= minShapes (${minShapes})`, maxShapes);
  }
  if (typeof nestProbability !== 'number' || !(nestProbability >= 0 && nestProbability <= 1)) {
    throw invalidParameterError('nestProbability', 'a probability in [0, 1]', nestProbability);
  }
  const s = Math.min(width, height);
  const shapes: Shape[] = [];

  // The region shapes are placed in: the body, or the central 80% of the image.
  let regionX = width / 2;
  let regionY = height / 2;
  let regionRx = 0.4 * width;
  let regionRy = 0.4 * height;
  if (options.body ?? true) {
    const body: Shape = {
      kind: rng.next() < 0.75 ? 'ellipse' : 'rectangle',
      cx: width / 2 + uniform(rng, -0.04, 0.04) * width,
      cy: height / 2 + uniform(rng, -0.04, 0.04) * height,
      rx: uniform(rng, 0.32, 0.44) * width,
      ry: uniform(rng, 0.32, 0.44) * height,
      angle: uniform(rng, -0.3, 0.3),
      value: uniform(rng, 0.25, 0.6),
    };
    shapes.push(body);
    regionX = body.cx;
    regionY = body.cy;
    regionRx = 0.65 * body.rx;
    regionRy = 0.65 * body.ry;
  }

  const count = minShapes + rng.int(maxShapes - minShapes + 1);
  for (let k = 0; k < count; k++) {
    // A point uniformly inside the placement ellipse.
    const t = 2 * Math.PI * rng.next();
    const rho = Math.sqrt(rng.next());
    const kindDraw = rng.int(4); // 0 square, 1 rectangle, 2 circle, 3 ellipse
    const half = uniform(rng, 0.04, 0.16) * s;
    const aspect = kindDraw === 0 || kindDraw === 2 ? 1 : uniform(rng, 0.35, 1);
    const shape: Shape = {
      kind: kindDraw < 2 ? 'rectangle' : 'ellipse',
      cx: regionX + rho * regionRx * Math.cos(t),
      cy: regionY + rho * regionRy * Math.sin(t),
      rx: half,
      ry: half * aspect,
      angle: uniform(rng, 0, Math.PI),
      value: uniform(rng, 0.05, 1),
    };
    shapes.push(shape);
    if (rng.next() < nestProbability) {
      const scale = uniform(rng, 0.3, 0.65);
      const room = 1 - scale; // keep the child inside the parent
      let value = uniform(rng, 0.05, 1);
      if (Math.abs(value - shape.value) < 0.15) value = shape.value > 0.5 ? shape.value - 0.4 : shape.value + 0.4;
      shapes.push({
        kind: rng.next() < 0.5 ? shape.kind : shape.kind === 'ellipse' ? 'rectangle' : 'ellipse',
        cx: shape.cx + uniform(rng, -0.5, 0.5) * room * Math.min(shape.rx, shape.ry),
        cy: shape.cy + uniform(rng, -0.5, 0.5) * room * Math.min(shape.rx, shape.ry),
        rx: shape.rx * scale,
        ry: shape.ry * scale,
        angle: shape.angle,
        value,
      });
    }
  }
  return shapes;
}

/**
 * A random training phantom: a mid-grey body on a black background holding rotated squares,
 * rectangles, circles and ellipses (some with a smaller shape of a different intensity nested
 * inside), values in [0, 1]. Deterministic for a given rng state.
 */
export function randomPhantom(size: PhantomSize, rng: Rng, options: RandomPhantomOptions = {}): Float32Array {
  const { width, height } = resolveSize(size);
  const image = new Float32Array(width * height);
  const antialias = options.antialias ?? true;
  for (const shape of randomPhantomShapes({ width, height }, rng, options)) {
    paintShape(image, width, height, shape, antialias);
  }
  for (let i = 0; i < image.length; i++) image[i] = Math.min(1, Math.max(0, image[i]!));
  return image;
}

/**
 * The modified Shepp-Logan ellipses (Toft 1996; MATLAB `phantom('Modified Shepp-Logan')`):
 * [additive intensity, semi-axis a, semi-axis b, centre x0, centre y0, rotation phi in degrees],
 * on [-1, 1]^2 with y pointing UP.
 */
export const MODIFIED_SHEPP_LOGAN: readonly (readonly [number, number, number, number, number, number])[] = [
  [1, 0.69, 0.92, 0, 0, 0],
  [-0.8, 0.6624, 0.874, 0, -0.0184, 0],
  [-0.2, 0.11, 0.31, 0.22, 0, -18],
  [-0.2, 0.16, 0.41, -0.22, 0, 18],
  [0.1, 0.21, 0.25, 0, 0.35, 0],
  [0.1, 0.046, 0.046, 0, 0.1, 0],
  [0.1, 0.046, 0.046, 0, -0.1, 0],
  [0.1, 0.046, 0.023, -0.08, -0.605, 0],
  [0.1, 0.023, 0.023, 0, -0.606, 0],
  [0.1, 0.023, 0.046, 0.06, -0.605, 0],
];

/**
 * Phantom coordinates of pixel (x, y): the [-1, 1] square spans the shorter image side (the
 * phantom keeps its aspect ratio and is centred); like MATLAB, the first and last pixel centres
 * of that side sit at -1 and +1, and y points up (row 0 is y = +1 on a square image).
 */
export function sheppLoganCoordinates(x: number, y: number, width: number, height: number): [number, number] {
  const half = Math.max(Math.min(width, height) - 1, 1) / 2;
  return [(x - (width - 1) / 2) / half, ((height - 1) / 2 - y) / half];
}

/**
 * The modified Shepp-Logan head phantom (point-sampled at pixel centres, like MATLAB's), values
 * in [0, 1]: background 0, skull 1, brain 0.2, the two dark ellipses 0, the small features 0.3
 * (0.4 in the sliver where ellipses 5 and 6 overlap, around (0, 0.12)). `height` defaults to `width`.
 */
export function sheppLogan(width: number, height: number = width): Float32Array {
  const { width: w, height: h } = resolveSize({ width, height });
  const image = new Float64Array(w * h);
  for (const [value, a, b, x0, y0, degrees] of MODIFIED_SHEPP_LOGAN) {
    const phi = (degrees * Math.PI) / 180;
    const cos = Math.cos(phi);
    const sin = Math.sin(phi);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [px, py] = sheppLoganCoordinates(x, y, w, h);
        const dx = px - x0;
        const dy = py - y0;
        const u = dx * cos + dy * sin;
        const v = dy * cos - dx * sin;
        if ((u * u) / (a * a) + (v * v) / (b * b) <= 1) image[y * w + x]! += value;
      }
    }
  }
  const out = new Float32Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, image[i]!));
  return out;
}
