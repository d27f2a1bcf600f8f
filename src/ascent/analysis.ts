/**
 * What a visualised filter responds to, in numbers: how its image's spectral energy splits between
 * structure that varies along x (vertical stripes and edges) and along y (horizontal ones). The seed
 * saw line detectors matching the aliasing direction; this measures it instead of eyeballing it.
 */
import { fft2, complexFromReal, isPowerOfTwo } from '../mri/index.js';
import { hartley2d } from './param/hartley.js';

export interface StripeEnergy {
  /** Share of non-DC energy with |kx| > 2|ky|: variation along x, i.e. vertical stripes. */
  alongX: number;
  /** Share with |ky| > 2|kx|: horizontal stripes. */
  alongY: number;
}

/** Spectral stripe energy of a single-channel image; undefined when the FFT cannot take its size. */
export function stripeEnergy(image: Float32Array, width: number, height: number): StripeEnergy | undefined {
  if (!isPowerOfTwo(width) || !isPowerOfTwo(height)) return undefined;
  let mean = 0;
  for (const v of image) mean += v;
  mean /= image.length;
  const spectrum = fft2(complexFromReal(image.map((v) => v - mean), width, height));
  let total = 0;
  let alongX = 0;
  let alongY = 0;
  for (let y = 0; y < height; y++) {
    const ky = Math.abs(y <= height / 2 ? y : y - height) / height;
    for (let x = 0; x < width; x++) {
      const kx = Math.abs(x <= width / 2 ? x : x - width) / width;
      if (kx === 0 && ky === 0) continue;
      const i = y * width + x;
      const e = spectrum.re[i]! ** 2 + spectrum.im[i]! ** 2;
      total += e;
      if (kx > 2 * ky) alongX += e;
      else if (ky > 2 * kx) alongY += e;
    }
  }
  return total > 0 ? { alongX: alongX / total, alongY: alongY / total } : { alongX: 0, alongY: 0 };
}

/**
 * What a result's spectrum says, beyond the vertical/horizontal vote of stripeEnergy. Orientation is
 * that of the stripes' wave vector: 0 degrees = a wave along x, i.e. vertical stripes (structure that
 * varies along x); 90 = horizontal stripes. Angles are folded to [0, 180).
 */
export interface SpectrumReading {
  /** Share of non-DC energy above half the Nyquist frequency (radial frequency > 0.25 cycles/pixel). */
  hf: number;
  /** Shares of non-DC energy within 26.6 degrees of vertical stripes (|kx| > 2|ky|), of horizontal, and the rest. */
  vertical: number;
  horizontal: number;
  oblique: number;
  /**
   * The energy-weighted mean orientation (axial mean of the doubled angle), as degrees off vertical
   * stripes in (-90, 90]: 0 = vertical, +-90 = horizontal. `orientedness` (0-1) says how peaked it is.
   */
  dominantAngle: number;
  orientedness: number;
  /** Energy share in 12 bins of 15 degrees, bin 0 = [-7.5, 7.5) off vertical, bin 6 = horizontal. */
  histogram: number[];
}

export const ORIENTATION_BINS = 12;

/** The power spectrum of a plane, any size: |F(k)|^2 = (H(k)^2 + H(-k)^2) / 2 from the Hartley transform. */
function powerSpectrum(plane: Float32Array, width: number, height: number): Float64Array {
  const h = new Float32Array(plane.length);
  hartley2d(plane, h, height, width);
  const p = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    const ny = (height - y) % height;
    for (let x = 0; x < width; x++) {
      const nx = (width - x) % width;
      const a = h[y * width + x]!;
      const b = h[ny * width + nx]!;
      p[y * width + x] = (a * a + b * b) / 2;
    }
  }
  return p;
}

/** Spectrum reading of an interleaved image (channels averaged: the luminance-like mean). */
export function readSpectrum(image: Float32Array, width: number, height: number, channels = 1): SpectrumReading {
  const plane = new Float32Array(width * height);
  for (let i = 0; i < plane.length; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += image[i * channels + c]!;
    plane[i] = s / channels;
  }
  const power = powerSpectrum(plane, width, height);
  let total = 0;
  let hf = 0;
  let vertical = 0;
  let horizontal = 0;
  let c2 = 0;
  let s2 = 0;
  const histogram = new Array<number>(ORIENTATION_BINS).fill(0);
  for (let y = 0; y < height; y++) {
    const ky = (y <= height / 2 ? y : y - height) / height;
    for (let x = 0; x < width; x++) {
      const kx = (x <= width / 2 ? x : x - width) / width;
      if (kx === 0 && ky === 0) continue;
      const e = power[y * width + x]!;
      total += e;
      if (Math.hypot(kx, ky) > 0.25) hf += e;
      if (Math.abs(kx) > 2 * Math.abs(ky)) vertical += e;
      else if (Math.abs(ky) > 2 * Math.abs(kx)) horizontal += e;
      const theta = Math.atan2(ky, kx); // wave-vector angle from the x axis
      c2 += e * Math.cos(2 * theta);
      s2 += e * Math.sin(2 * theta);
      const deg = (((theta * 180) / Math.PI) % 180 + 180) % 180;
      histogram[Math.floor(((deg + 7.5) % 180) / 15)]! += e;
    }
  }
  if (total === 0) return { hf: 0, vertical: 0, horizontal: 0, oblique: 0, dominantAngle: 0, orientedness: 0, histogram };
  let dominant = (Math.atan2(s2, c2) * 90) / Math.PI; // (-90, 90]
  if (dominant <= -90) dominant += 180;
  return {
    hf: hf / total,
    vertical: vertical / total,
    horizontal: horizontal / total,
    oblique: (total - vertical - horizontal) / total,
    dominantAngle: dominant,
    orientedness: Math.hypot(c2, s2) / total,
    histogram: histogram.map((v) => v / total),
  };
}
