/**
 * Image quality against a reference: PSNR and SSIM.
 *
 * The data range L defaults to max(reference) - min(reference) for both metrics; pass it
 * explicitly (e.g. 1 for images in [0, 1]) to compare numbers across images. A constant reference
 * has no range, so then `dataRange` is required.
 *
 * SSIM follows Wang et al. 2004 as implemented by scikit-image's `structural_similarity` with
 * `gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=L`:
 * an 11x11 Gaussian window (sigma 1.5, normalised to sum 1, separable), K1 = 0.01, K2 = 0.03,
 * C1 = (K1 L)^2, C2 = (K2 L)^2, population (biased) local variances, and the reported value is
 * the mean of the SSIM map over the VALID region only: pixels whose whole window lies inside the
 * image, i.e. the image minus a 5-pixel border (skimage crops the same border), so no padding
 * convention is involved. Images must be at least 11x11.
 */

import { invalidParameterError } from '../errors.js';

export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;
export const SSIM_SIGMA = 1.5;
export const SSIM_WINDOW = 11;

function checkPair(reference: ArrayLike<number>, test: ArrayLike<number>): void {
  if (reference.length === 0) throw invalidParameterError('reference', 'a non-empty image', 'an empty image');
  if (test.length !== reference.length) {
    throw invalidParameterError('test image', `${reference.length} values like the reference`, `${test.length} values`);
  }
}

function resolveRange(reference: ArrayLike<number>, dataRange: number | undefined): number {
  if (dataRange !== undefined) {
    if (typeof dataRange !== 'number' || !Number.isFinite(dataRange) || dataRange <= 0) {
      throw invalidParameterError('dataRange', 'a positive finite number', dataRange);
    }
    return dataRange;
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < reference.length; i++) {
    const v = reference[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  if (!(range > 0)) {
    throw invalidParameterError('dataRange', 'a positive number (the reference is constant, so pass dataRange)', range);
  }
  return range;
}

/** Mean squared error. */
export function mse(reference: ArrayLike<number>, test: ArrayLike<number>): number {
  checkPair(reference, test);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = reference[i]! - test[i]!;
    sum += d * d;
  }
  return sum / reference.length;
}

/**
 * Peak signal-to-noise ratio in dB: 10 log10(L^2 / MSE). Infinity for identical images.
 * L defaults to max(reference) - min(reference).
 */
export function psnr(reference: ArrayLike<number>, test: ArrayLike<number>, dataRange?: number): number {
  const error = mse(reference, test);
  const range = resolveRange(reference, dataRange);
  return error === 0 ? Infinity : 10 * Math.log10((range * range) / error);
}

export interface SsimOptions {
  /** L in C1 = (K1 L)^2, C2 = (K2 L)^2. Default max(reference) - min(reference). */
  dataRange?: number;
}

/** The normalised 1-D Gaussian taps (length 11, sigma 1.5); their outer product is the window. */
export function ssimKernel(): Float64Array {
  const radius = (SSIM_WINDOW - 1) / 2;
  const taps = new Float64Array(SSIM_WINDOW);
  let sum = 0;
  for (let i = 0; i < SSIM_WINDOW; i++) {
    const d = i - radius;
    taps[i] = Math.exp(-(d * d) / (2 * SSIM_SIGMA * SSIM_SIGMA));
    sum += taps[i]!;
  }
  for (let i = 0; i < SSIM_WINDOW; i++) taps[i]! /= sum;
  return taps;
}

/**
 * The SSIM map over the valid region: `(width - 10) x (height - 10)` values, row-major, where
 * entry (x, y) belongs to the window centred on image pixel (x + 5, y + 5).
 */
export function ssimMap(
  reference: ArrayLike<number>,
  test: ArrayLike<number>,
  width: number,
  height: number,
  options: SsimOptions = {},
): { width: number; height: number; values: Float64Array } {
  checkPair(reference, test);
  if (!Number.isInteger(width) || width < SSIM_WINDOW) {
    throw invalidParameterError('image width', `an integer >= ${SSIM_WINDOW} (the SSIM window)`, width);
  }
  if (!Number.isInteger(height) || height < SSIM_WINDOW) {
    throw invalidParameterError('image height', `an integer >= ${SSIM_WINDOW} (the SSIM window)`, height);
  }
  if (reference.length !== width * height) {
    throw invalidParameterError('reference', `${width * height} values (${width}x${height})`, `${reference.length} values`);
  }
  const range = resolveRange(reference, options.dataRange);
  const c1 = (SSIM_K1 * range) ** 2;
  const c2 = (SSIM_K2 * range) ** 2;
  const taps = ssimKernel();
  const k = SSIM_WINDOW;
  const ow = width - k + 1;
  const oh = height - k + 1;

  // Horizontal pass over every row for the five moments x, y, x^2, y^2, xy.
  const hx = new Float64Array(ow * height);
  const hy = new Float64Array(ow * height);
  const hxx = new Float64Array(ow * height);
  const hyy = new Float64Array(ow * height);
  const hxy = new Float64Array(ow * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < ow; x++) {
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let t = 0; t < k; t++) {
        const w = taps[t]!;
        const a = reference[row + x + t]!;
        const b = test[row + x + t]!;
        sx += w * a;
        sy += w * b;
        sxx += w * a * a;
        syy += w * b * b;
        sxy += w * a * b;
      }
      const o = y * ow + x;
      hx[o] = sx;
      hy[o] = sy;
      hxx[o] = sxx;
      hyy[o] = syy;
      hxy[o] = sxy;
    }
  }

  // Vertical pass and the SSIM formula.
  const values = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let ux = 0;
      let uy = 0;
      let uxx = 0;
      let uyy = 0;
      let uxy = 0;
      for (let t = 0; t < k; t++) {
        const w = taps[t]!;
        const o = (y + t) * ow + x;
        ux += w * hx[o]!;
        uy += w * hy[o]!;
        uxx += w * hxx[o]!;
        uyy += w * hyy[o]!;
        uxy += w * hxy[o]!;
      }
      const vx = uxx - ux * ux;
      const vy = uyy - uy * uy;
      const vxy = uxy - ux * uy;
      values[y * ow + x] = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return { width: ow, height: oh, values };
}

/**
 * Mean structural similarity (see the module note for the exact convention): 1 for identical
 * images, lower for worse matches.
 */
export function ssim(
  reference: ArrayLike<number>,
  test: ArrayLike<number>,
  width: number,
  height: number,
  options: SsimOptions = {},
): number {
  const { values } = ssimMap(reference, test, width, height, options);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}
