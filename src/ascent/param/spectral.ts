/**
 * The spectral image parameterisation of Olah et al. (2017, "Feature Visualization"): the optimiser
 * moves Fourier coefficients, each scaled by 1/f^decay, instead of pixels. Steps of equal size in
 * every coefficient then change the image with a natural-image (pink) spectrum, so ascent builds
 * structure at all scales instead of filling the image with the high-frequency patterns that plain
 * pixel ascent finds first. Here the Fourier basis is the real Hartley basis (param/hartley.ts).
 *
 * image = H(scale * p) per image and channel; the adjoint (gradient to the parameters) is
 * scale * H(g), because H is symmetric and orthonormal.
 */
import type { Rng } from '../../random.js';
import { frequencies, hartley2d } from './hartley.js';

export interface SpectralShape {
  n: number;
  height: number;
  width: number;
  channels: number;
}

export class SpectralParam {
  readonly scale: Float32Array;

  constructor(
    readonly shape: SpectralShape,
    /** Exponent of the 1/f scaling (Lucid's decay_power; 0 = white, pixel-like steps). */
    readonly decay = 1,
  ) {
    const { height, width } = shape;
    const f = frequencies(height, width);
    // The DC term would divide by zero: Lucid floors the frequency at 1/max(H, W).
    const floor = 1 / Math.max(height, width);
    this.scale = Float32Array.from(f, (v) => 1 / Math.max(v, floor) ** decay);
  }

  get size(): number {
    const { n, height, width, channels } = this.shape;
    return n * height * width * channels;
  }

  /** Random coefficients, normal with standard deviation `sd` (Lucid's 0.01), keyed per image. */
  static randomParams(shape: SpectralShape, rngs: Rng[], sd = 0.01): Float32Array {
    const per = shape.height * shape.width * shape.channels;
    const p = new Float32Array(shape.n * per);
    for (let b = 0; b < shape.n; b++) for (let i = 0; i < per; i++) p[b * per + i] = rngs[b]!.normal() * sd;
    return p;
  }

  /** Pixels (NHWC) from coefficients (same layout, coefficient (ky, kx) where pixel (y, x) would be). */
  toImage(params: Float32Array, out?: Float32Array): Float32Array {
    return this.apply(params, true, false, out);
  }

  /** The adjoint: d(loss)/d(params) from d(loss)/d(pixels). */
  adjoint(gradient: Float32Array, out?: Float32Array): Float32Array {
    return this.apply(gradient, false, true, out);
  }

  /** The coefficients whose image is `image` (inverse of toImage): octaves re-parameterise an upscaled image. */
  fromImage(image: Float32Array): Float32Array {
    const out = this.apply(image, false, false);
    this.multiply(out, this.inverseScale);
    return out;
  }

  private inverseScaleTable?: Float32Array;
  private get inverseScale(): Float32Array {
    return (this.inverseScaleTable ??= Float32Array.from(this.scale, (v) => 1 / v));
  }

  /** Scratch for scaled inputs, kept between calls: a step transforms twice and should not allocate. */
  private scaled?: Float32Array;

  /** Multiplies every image and channel of `data` in place by the per-frequency `table`. */
  private multiply(data: Float32Array, table: Float32Array): void {
    const { n, height, width, channels } = this.shape;
    const plane = height * width;
    for (let b = 0, i = 0; b < n; b++) {
      for (let p = 0; p < plane; p++) {
        const s = table[p]!;
        for (let c = 0; c < channels; c++, i++) data[i] = data[i]! * s;
      }
    }
  }

  private apply(src: Float32Array, scaleBefore: boolean, scaleAfter: boolean, out: Float32Array = new Float32Array(src.length)): Float32Array {
    const { n, height, width, channels } = this.shape;
    if (src.length !== this.size || out.length !== this.size) throw new Error(`spectral parameterisation: ${src.length} values for shape ${n}x${height}x${width}x${channels}`);
    const plane = height * width;
    let input = src;
    if (scaleBefore) {
      input = this.scaled ??= new Float32Array(this.size);
      input.set(src);
      this.multiply(input, this.scale);
    }
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < channels; c++) hartley2d(input, out, height, width, channels, b * plane * channels + c);
    }
    if (scaleAfter) this.multiply(out, this.scale);
    return out;
  }
}
