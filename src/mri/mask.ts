/**
 * Cartesian undersampling masks: which phase-encoding lines of k-space an accelerated scan keeps.
 *
 * Geometry. A mask is a row-major Uint8Array of `width * height` values (1 = sampled) laid out in
 * CENTRED k-space, i.e. matching `fftshift(fft2(image))`: the zero frequency sits at
 * (`floor(width/2)`, `floor(height/2)`).
 *
 * `axis` names the undersampled k-space axis, the phase-encoding direction:
 *   - 'x': lines are COLUMNS of k-space (one kx, every ky). Whole columns are kept or skipped,
 *          so the mask varies along x only, and the aliasing ghosts fold along x (horizontally):
 *          every image row is blurred/aliased independently, and a row that is empty in the
 *          image stays empty in the zero-filled image.
 *   - 'y': lines are ROWS of k-space (one ky, every kx); the mask varies along y only and the
 *          ghosts fold along y (vertically).
 * With N lines (N = width for 'x', N = height for 'y'):
 *   - the `round(N * center)` lines around DC are always sampled (for an even count exactly as
 *     many on each side of DC, for an odd count one more on the high side);
 *   - in total `max(1, round(N / acceleration))` lines are sampled, or just the centre lines
 *     when those are already more;
 *   - the remaining lines are drawn from outside the centre either uniformly at random without
 *     replacement ('random') or evenly spaced with a random offset ('equispaced').
 */

import { invalidParameterError } from '../errors.js';
import { createRng, type Rng } from '../random.js';

export type MaskPattern = 'random' | 'equispaced';
export type MaskAxis = 'x' | 'y';

export const MASK_PATTERNS: readonly MaskPattern[] = ['random', 'equispaced'];
export const MASK_AXES: readonly MaskAxis[] = ['x', 'y'];

export interface CartesianMaskOptions {
  width: number;
  height: number;
  /** Acceleration R >= 1: about 1/R of the lines are sampled. */
  acceleration: number;
  /** Fraction in [0, 1] of the lines, around DC, that are always sampled. Default 0.08. */
  center?: number;
  /** How the lines outside the centre are chosen. Default 'random'. */
  pattern?: MaskPattern;
  /** The undersampled (phase-encoding) k-space axis; see the module note. Default 'x'. */
  axis?: MaskAxis;
  /** Randomness for the line choice ('random') or the offset ('equispaced'). Default createRng(0). */
  rng?: Rng;
}

function checkLines(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw invalidParameterError(name, 'a positive integer', n);
}

/** Validates the options and fills in the defaults. */
function resolve(options: CartesianMaskOptions): Required<CartesianMaskOptions> {
  const { width, height, acceleration } = options;
  checkLines('mask width', width);
  checkLines('mask height', height);
  if (typeof acceleration !== 'number' || !Number.isFinite(acceleration) || acceleration < 1) {
    throw invalidParameterError('--acceleration', 'a finite number >= 1', acceleration);
  }
  const center = options.center ?? 0.08;
  if (typeof center !== 'number' || !(center >= 0 && center <= 1)) {
    throw invalidParameterError('--center', 'a fraction in [0, 1]', center);
  }
  const pattern = options.pattern ?? 'random';
  if (!MASK_PATTERNS.includes(pattern)) {
    throw invalidParameterError('--pattern', `one of ${MASK_PATTERNS.join(', ')}`, pattern);
  }
  const axis = options.axis ?? 'x';
  if (!MASK_AXES.includes(axis)) throw invalidParameterError('--axis', `one of ${MASK_AXES.join(', ')}`, axis);
  return { width, height, acceleration, center, pattern, axis, rng: options.rng ?? createRng(0) };
}

/** Indices of the centre lines: `count` lines around DC (index floor(n/2)). */
export function centerLineRange(n: number, count: number): { start: number; end: number } {
  const start = Math.floor(n / 2) - Math.floor(count / 2);
  return { start, end: start + count };
}

/**
 * The 1-D line pattern behind {@link cartesianMask}: a Uint8Array of N values (N = width for
 * axis 'x', height for 'y'), 1 where the line is sampled, in centred order (DC at floor(N/2)).
 */
export function cartesianLines(options: CartesianMaskOptions): Uint8Array {
  const { width, height, acceleration, center, pattern, axis, rng } = resolve(options);
  const n = axis === 'x' ? width : height;
  const lines = new Uint8Array(n);
  const centreCount = Math.round(n * center);
  const { start, end } = centerLineRange(n, centreCount);
  lines.fill(1, start, end);
  const target = Math.max(1, Math.round(n / acceleration));
  const extra = Math.min(target, n) - centreCount;
  if (extra <= 0) return lines;

  const outside: number[] = [];
  for (let i = 0; i < n; i++) if (i < start || i >= end) outside.push(i);
  const m = outside.length;
  if (pattern === 'random') {
    // Partial Fisher-Yates: the first `extra` entries become a uniform sample without replacement.
    for (let i = 0; i < extra; i++) {
      const j = i + rng.int(m - i);
      const t = outside[i]!;
      outside[i] = outside[j]!;
      outside[j] = t;
      lines[outside[i]!] = 1;
    }
  } else {
    const spacing = m / extra;
    const offset = rng.next() * spacing;
    for (let k = 0; k < extra; k++) {
      const index = Math.min(m - 1, Math.floor(offset + k * spacing));
      lines[outside[index]!] = 1;
    }
  }
  return lines;
}

/**
 * A Cartesian undersampling mask of `width * height` values (1 = sampled), in centred k-space
 * layout; see the module note for `axis`, `center` and the line count. Throws a UsageError for
 * acceleration < 1 ('--acceleration'), center outside [0, 1] ('--center'), or a bad pattern/axis.
 */
export function cartesianMask(options: CartesianMaskOptions): Uint8Array {
  const lines = cartesianLines(options);
  const { width, height } = options;
  const axis = options.axis ?? 'x';
  const mask = new Uint8Array(width * height);
  if (axis === 'x') {
    for (let y = 0; y < height; y++) mask.set(lines, y * width);
  } else {
    for (let y = 0; y < height; y++) if (lines[y]) mask.fill(1, y * width, (y + 1) * width);
  }
  return mask;
}

/** Fraction of sampled entries in a mask (for reports). */
export function samplingFraction(mask: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) count++;
  return mask.length === 0 ? 0 : count / mask.length;
}
