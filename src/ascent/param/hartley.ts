/**
 * The orthonormal 2-D discrete Hartley transform, for any image size (octaves give sizes that are not
 * powers of two). Real in, real out, symmetric and its own inverse: the Hartley basis is a real
 * orthonormal Fourier basis, each image of it a plane wave cas(2*pi*(ky*y/H + kx*x/W)) with one
 * spatial frequency, so a spectral parameterisation needs no complex numbers and its adjoint is itself.
 */

import FFT from 'fft.js';
import { complexFromReal, fft2, isPowerOfTwo } from '../../mri/fft.js';

interface Twiddles {
  cos: Float64Array;
  sin: Float64Array;
}

const TWIDDLES = new Map<number, Twiddles>();

/** cos and sin of 2*pi*k*n/N for every k, n (cached: N^2 values per size). */
function twiddles(n: number): Twiddles {
  let t = TWIDDLES.get(n);
  if (!t) {
    const cos = new Float64Array(n * n);
    const sin = new Float64Array(n * n);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) {
        const a = (2 * Math.PI * ((k * j) % n)) / n;
        cos[k * n + j] = Math.cos(a);
        sin[k * n + j] = Math.sin(a);
      }
    }
    t = { cos, sin };
    TWIDDLES.set(n, t);
  }
  return t;
}

/**
 * Orthonormal 2-D DHT of one plane stored with a stride (interleaved channels): reads
 * src[offset + (y * width + x) * stride], writes dst the same way.
 * H[ky, kx] = sum x[y, x] (cos + sin)(2*pi*(ky*y/H + kx*x/W)) / sqrt(H*W) = (Re F - Im F) / sqrt(H*W),
 * with F the complex DFT, computed separably (rows, then columns).
 */
export function hartley2d(src: Float32Array, dst: Float32Array, height: number, width: number, stride = 1, offset = 0): void {
  if (isPowerOfTwo(width) && isPowerOfTwo(height) && width >= 4 && height >= 4) {
    separableHartley(src, dst, height, width, stride, offset);
    return;
  }
  if (isPowerOfTwo(width) && isPowerOfTwo(height)) {
    // Radix-2 FFT where it applies (the usual 128, 256 sizes); the direct sums below serve any size.
    const plane = new Float64Array(height * width);
    for (let i = 0; i < plane.length; i++) plane[i] = src[offset + i * stride]!;
    const F = fft2(complexFromReal(plane, width, height));
    const norm = 1 / Math.sqrt(height * width);
    for (let i = 0; i < plane.length; i++) dst[offset + i * stride] = (F.re[i]! - F.im[i]!) * norm;
    return;
  }
  const tw = twiddles(width);
  const th = twiddles(height);
  // Row DFTs of the real input: R[y, kx] = sum_x x[y, x] e^{-i 2 pi kx x / W}.
  const rr = new Float64Array(height * width);
  const ri = new Float64Array(height * width);
  const row = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) row[x] = src[offset + (y * width + x) * stride]!;
    for (let k = 0; k < width; k++) {
      let re = 0;
      let im = 0;
      const base = k * width;
      for (let x = 0; x < width; x++) {
        const v = row[x]!;
        re += v * tw.cos[base + x]!;
        im -= v * tw.sin[base + x]!;
      }
      rr[y * width + k] = re;
      ri[y * width + k] = im;
    }
  }
  // Column DFTs: F[ky, kx] = sum_y R[y, kx] e^{-i 2 pi ky y / H}; keep Re F - Im F.
  const norm = 1 / Math.sqrt(height * width);
  for (let k = 0; k < height; k++) {
    const base = k * height;
    for (let kx = 0; kx < width; kx++) {
      let re = 0;
      let im = 0;
      for (let y = 0; y < height; y++) {
        const c = th.cos[base + y]!;
        const s = th.sin[base + y]!;
        const a = rr[y * width + kx]!;
        const b = ri[y * width + kx]!;
        // (a + ib)(c - is) = (ac + bs) + i(bc - as)
        re += a * c + b * s;
        im += b * c - a * s;
      }
      dst[offset + (k * width + kx) * stride] = (re - im) * norm;
    }
  }
}

/** The spatial frequency (cycles per pixel) of each Hartley coefficient, [H * W]. */
export function frequencies(height: number, width: number): Float64Array {
  const f = new Float64Array(height * width);
  for (let ky = 0; ky < height; ky++) {
    const fy = Math.min(ky, height - ky) / height;
    for (let kx = 0; kx < width; kx++) {
      const fx = Math.min(kx, width - kx) / width;
      f[ky * width + kx] = Math.sqrt(fx * fx + fy * fy);
    }
  }
  return f;
}

/** Real FFT plans and scratch lines per length, kept across calls: the lucid recipe runs two transforms a step. */
interface Plan {
  fft: FFT;
  input: Float64Array;
  output: Float64Array;
  line: Float64Array;
}

const PLANS = new Map<number, Plan>();

function planFor(n: number): Plan {
  let p = PLANS.get(n);
  if (!p) {
    p = { fft: new FFT(n), input: new Float64Array(n), output: new Float64Array(2 * n), line: new Float64Array(n) };
    PLANS.set(n, p);
  }
  return p;
}

/** In-place 1-D DHT (unnormalised) of `n` values of `data` at `start`, `start + step`, ...: Re F - Im F from a real FFT. */
function hartley1d(data: Float64Array, start: number, step: number, n: number): void {
  const { fft, input, output } = planFor(n);
  for (let k = 0; k < n; k++) input[k] = data[start + k * step]!;
  fft.realTransform(output, input);
  // A real input's spectrum is Hermitian: F[n - k] = conj F[k], so H[n - k] = Re F[k] + Im F[k].
  data[start] = output[0]!;
  const half = n >> 1;
  data[start + half * step] = output[2 * half]!;
  for (let k = 1; k < half; k++) {
    const re = output[2 * k]!;
    const im = output[2 * k + 1]!;
    data[start + k * step] = re - im;
    data[start + (n - k) * step] = re + im;
  }
}

let scratch = new Float64Array(0);

/**
 * The 2-D DHT from 1-D ones (power-of-two sizes): the row-column transform T = DHT_y(DHT_x(x)) is not
 * the 2-D DHT, because cas(a + b) != cas(a) cas(b), but the identity
 * cas(a + b) = (cas a cas b + cas a cas(-b) + cas(-a) cas b - cas(-a) cas(-b)) / 2 gives
 * H[ky, kx] = (T[ky, kx] + T[-ky, kx] + T[ky, -kx] - T[-ky, -kx]) / 2. Real FFTs throughout: about half
 * the work of the complex 2-D FFT, and no allocation per call.
 */
function separableHartley(src: Float32Array, dst: Float32Array, height: number, width: number, stride: number, offset: number): void {
  const n = height * width;
  if (scratch.length < n) scratch = new Float64Array(n);
  const t = scratch;
  for (let i = 0; i < n; i++) t[i] = src[offset + i * stride]!;
  for (let y = 0; y < height; y++) hartley1d(t, y * width, 1, width);
  for (let x = 0; x < width; x++) hartley1d(t, x, width, height);
  const norm = 0.5 / Math.sqrt(n);
  for (let ky = 0; ky < height; ky++) {
    const ny = ((height - ky) % height) * width;
    const py = ky * width;
    for (let kx = 0; kx < width; kx++) {
      const nx = (width - kx) % width;
      dst[offset + (py + kx) * stride] = (t[py + kx]! + t[ny + kx]! + t[py + nx]! - t[ny + nx]!) * norm;
    }
  }
}
