/**
 * What a visualised filter responds to, in numbers: how its image's spectral energy splits between
 * structure that varies along x (vertical stripes and edges) and along y (horizontal ones). The seed
 * saw line detectors matching the aliasing direction; this measures it instead of eyeballing it.
 */
import { fft2, complexFromReal, isPowerOfTwo } from '../mri/index.js';

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
