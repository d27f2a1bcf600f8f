/**
 * 2-D discrete Fourier transforms of complex images, built on fft.js (radix-4, power-of-two sizes).
 *
 * Layout: a {@link Complex2D} holds separate real and imaginary planes, each a row-major
 * Float32Array of `width * height` values (index `y * width + x`).
 *
 * Scaling: the standard (unnormalised, numpy `norm="backward"`) convention.
 *   forward  X[ky,kx] = sum_{y,x} x[y,x] exp(-2 pi i (kx x / W + ky y / H))
 *   inverse  x[y,x]   = 1/(W H) sum_{ky,kx} X[ky,kx] exp(+2 pi i (kx x / W + ky y / H))
 * so `ifft2(fft2(x)) == x`, the DC term is the sum of the image, and Parseval reads
 * `sum |x|^2 == sum |X|^2 / (W H)`.
 *
 * The transforms leave DC at index 0; {@link fftshift} moves it to the centre
 * (`floor(W/2), floor(H/2)`) and {@link ifftshift} undoes that, for any size, like numpy's.
 * Arithmetic runs in float64; only the results are stored as float32.
 */

import FFT from 'fft.js';
import { invalidParameterError } from '../errors.js';

/** A complex image: separate real and imaginary row-major planes of `width * height` values. */
export interface Complex2D {
  readonly width: number;
  readonly height: number;
  readonly re: Float32Array;
  readonly im: Float32Array;
}

/** True when n is a power of two (1, 2, 4, ...). */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

function checkDimension(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw invalidParameterError(name, 'a positive integer', n);
}

function checkFftDimension(name: string, n: number): void {
  if (!isPowerOfTwo(n)) throw invalidParameterError(name, 'a power of two (1, 2, 4, ..., 256, ...)', n);
}

/** Checks that a complex image's planes match its size. */
function checkComplex(input: Complex2D): void {
  checkDimension('image width', input.width);
  checkDimension('image height', input.height);
  const n = input.width * input.height;
  if (input.re.length !== n) throw invalidParameterError('real plane', `${n} values`, `${input.re.length} values`);
  if (input.im.length !== n) throw invalidParameterError('imaginary plane', `${n} values`, `${input.im.length} values`);
}

const plans = new Map<number, FFT>();

function plan(size: number): FFT {
  let fft = plans.get(size);
  if (fft === undefined) {
    fft = new FFT(size);
    plans.set(size, fft);
  }
  return fft;
}

/**
 * One pass of 1-D transforms over every row (stride 1) or every column (stride width) of the
 * float64 interleaved image `data` (length 2 * width * height), in place.
 */
function transformLines(
  data: Float64Array,
  width: number,
  height: number,
  alongRows: boolean,
  inverse: boolean,
): void {
  const size = alongRows ? width : height;
  if (size === 1) return; // a 1-point DFT is the identity
  const count = alongRows ? height : width;
  const step = alongRows ? 1 : width;
  const fft = plan(size);
  const line = new Float64Array(2 * size);
  const out = new Float64Array(2 * size);
  for (let l = 0; l < count; l++) {
    const start = alongRows ? l * width : l;
    for (let k = 0; k < size; k++) {
      const p = 2 * (start + k * step);
      line[2 * k] = data[p]!;
      line[2 * k + 1] = data[p + 1]!;
    }
    if (inverse) fft.inverseTransform(out, line);
    else fft.transform(out, line);
    for (let k = 0; k < size; k++) {
      const p = 2 * (start + k * step);
      data[p] = out[2 * k]!;
      data[p + 1] = out[2 * k + 1]!;
    }
  }
}

function transform2(input: Complex2D, inverse: boolean): Complex2D {
  checkComplex(input);
  const { width, height } = input;
  checkFftDimension('image width', width);
  checkFftDimension('image height', height);
  const n = width * height;
  const data = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    data[2 * i] = input.re[i]!;
    data[2 * i + 1] = input.im[i]!;
  }
  transformLines(data, width, height, true, inverse);
  transformLines(data, width, height, false, inverse);
  const re = new Float32Array(n);
  const im = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = data[2 * i]!;
    im[i] = data[2 * i + 1]!;
  }
  return { width, height, re, im };
}

/**
 * Forward 2-D DFT, unnormalised (see the module note). Width and height must be powers of two,
 * else a UsageError naming the size.
 */
export function fft2(input: Complex2D): Complex2D {
  return transform2(input, false);
}

/** Inverse 2-D DFT with the 1/(W H) factor, so `ifft2(fft2(x)) == x`. Power-of-two sizes only. */
export function ifft2(input: Complex2D): Complex2D {
  return transform2(input, true);
}

/** A complex image whose real plane is a copy of `values` and imaginary plane is zero. */
export function complexFromReal(values: ArrayLike<number>, width: number, height: number): Complex2D {
  checkDimension('image width', width);
  checkDimension('image height', height);
  const n = width * height;
  if (values.length !== n) throw invalidParameterError('image', `${n} values (${width}x${height})`, `${values.length} values`);
  return { width, height, re: Float32Array.from(values), im: new Float32Array(n) };
}

/** Pixel-wise modulus sqrt(re^2 + im^2). */
export function magnitude(input: Complex2D): Float32Array {
  checkComplex(input);
  const out = new Float32Array(input.re.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.hypot(input.re[i]!, input.im[i]!);
  return out;
}

/** Typed arrays the shift helpers accept and return (same type in, same type out). */
export type ShiftableArray = Float32Array | Float64Array | Uint8Array | Int32Array | Uint16Array;

/** Circularly rolls a row-major image by (dx, dy): out[(y+dy) mod H][(x+dx) mod W] = in[y][x]. */
function roll<T extends ShiftableArray>(data: T, width: number, height: number, dx: number, dy: number): T {
  checkDimension('image width', width);
  checkDimension('image height', height);
  if (data.length !== width * height) {
    throw invalidParameterError('image', `${width * height} values (${width}x${height})`, `${data.length} values`);
  }
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let y = 0; y < height; y++) {
    const ty = (y + dy) % height;
    const src = y * width;
    const dst = ty * width;
    // Two contiguous runs per row.
    const split = width - dx; // source columns [0, split) land at [dx, width)
    out.set(data.subarray(src, src + split), dst + dx);
    out.set(data.subarray(src + split, src + width), dst);
  }
  return out;
}

function shiftComplex(input: Complex2D, inverse: boolean): Complex2D {
  checkComplex(input);
  const { width, height } = input;
  const f = inverse ? ifftshift : fftshift;
  return { width, height, re: f(input.re, width, height), im: f(input.im, width, height) };
}

/**
 * Moves the zero frequency from index 0 to the centre (`floor(W/2)`, `floor(H/2)`), like numpy's
 * `fft.fftshift` over both axes. Returns a new array (or complex image) of the same type.
 */
export function fftshift(input: Complex2D): Complex2D;
export function fftshift<T extends ShiftableArray>(data: T, width: number, height: number): T;
export function fftshift<T extends ShiftableArray>(
  data: T | Complex2D,
  width?: number,
  height?: number,
): T | Complex2D {
  if (!ArrayBuffer.isView(data)) return shiftComplex(data, false);
  const w = width ?? NaN;
  const h = height ?? NaN;
  return roll(data, w, h, Math.floor(w / 2), Math.floor(h / 2));
}

/** The inverse of {@link fftshift} (they differ for odd sizes), like numpy's `fft.ifftshift`. */
export function ifftshift(input: Complex2D): Complex2D;
export function ifftshift<T extends ShiftableArray>(data: T, width: number, height: number): T;
export function ifftshift<T extends ShiftableArray>(
  data: T | Complex2D,
  width?: number,
  height?: number,
): T | Complex2D {
  if (!ArrayBuffer.isView(data)) return shiftComplex(data, true);
  const w = width ?? NaN;
  const h = height ?? NaN;
  return roll(data, w, h, Math.ceil(w / 2) % Math.max(w, 1), Math.ceil(h / 2) % Math.max(h, 1));
}
