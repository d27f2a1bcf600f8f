/**
 * Attribution methods as a frozen table: name -> how to turn the engine's gradients into a per-pixel
 * map. Every method goes through the Engine interface (the ONNX engine compiles the target as its
 * objective), and SmoothGrad's noisy copies and IG's path points run as batches.
 *
 * - gradient: d target / d pixel (Simonyan et al. 2014's saliency, signed).
 * - gradient-x-input: gradient times the input.
 * - smoothgrad: the mean gradient over N copies with Gaussian noise of sigma = fraction of the
 *   input's range (Smilkov et al. 2017).
 * - integrated-gradients: (x - baseline) times the path integral of the gradient along the straight
 *   line from the baseline (zeros, or the input blurred) to x (Sundararajan et al. 2017), by the
 *   midpoint rule over N steps. (Gauss-Legendre nodes, Captum's default, were measured worse here:
 *   the shipped U-Net's output changes abruptly within 5% of the zero image, where those nodes crowd.)
 * - gradcam: ReLU of a layer's channels weighted by their mean gradient, upsampled to the input
 *   (Selvaraju et al. 2017).
 * Maps sum over input channels.
 */
import type { Batch, Engine, Objective } from '../engine/engine.js';
import { createRng } from '../random.js';
import { resize } from '../ascent/resample.js';

export interface MethodOptions {
  samples: number;
  sigma: number;
  steps: number;
  baseline: 'zero' | 'blur';
  blurSigma: number;
  /** Images per engine call for SmoothGrad and IG (a chunk of the samples; see sampleChunk). */
  batch: number;
  layer?: string;
  seed: number;
}

export interface MethodInput {
  engine: Engine;
  /** The (padded) network input, height x width x channels. */
  x: Float32Array;
  width: number;
  height: number;
  channels: number;
  /** The target as an objective for n images. */
  objective: (n: number) => Objective;
  options: MethodOptions;
}

export interface MethodOutput {
  /** height x width, summed over channels. */
  map: Float32Array;
  /** Integrated gradients: f(x), f(baseline) and the map's sum, for the completeness check. */
  completeness?: { fx: number; fBaseline: number; sum: number };
}

export interface AttributionMethod {
  /** Signed maps get a diverging colormap; unsigned ones a sequential one. */
  signed: boolean;
  run(input: MethodInput): Promise<MethodOutput>;
}

function sumChannels(data: Float32Array, pixels: number, channels: number): Float32Array {
  if (channels === 1) return data;
  const out = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) for (let c = 0; c < channels; c++) out[i]! += data[i * channels + c]!;
  return out;
}

/**
 * Input gradients of `count` images made by `fill(i, into)`, in chunks of `options.batch` images per
 * engine call: one compiled gradient graph serves every chunk (the target's graph has a symbolic batch
 * size), one input buffer is refilled, and the gradients are summed in place in float64, so memory is
 * one chunk's whatever the count. Returns the sum of the gradients of images [0, summed) and every
 * image's objective value.
 */
export async function gradientSum(input: MethodInput, count: number, summed: number, fill: (i: number, into: Float32Array) => void): Promise<{ sum: Float64Array; values: Float32Array }> {
  const size = input.x.length;
  const sum = new Float64Array(size);
  const values = new Float32Array(count);
  const chunk = Math.max(1, Math.min(input.options.batch, count));
  const buffer = new Float32Array(chunk * size);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const data = n === chunk ? buffer : buffer.subarray(0, n * size);
    for (let i = 0; i < n; i++) fill(start + i, data.subarray(i * size, (i + 1) * size));
    const batch: Batch = { data, n, height: input.height, width: input.width, channels: input.channels };
    const { values: v, gradient } = await input.engine.gradient(batch, input.objective(n), 'none');
    values.set(v, start);
    for (let i = 0; i < n && start + i < summed; i++) {
      const offset = i * size;
      for (let p = 0; p < size; p++) sum[p]! += gradient[offset + p]!;
    }
  }
  return { sum, values };
}

async function plainGradient(input: MethodInput): Promise<Float32Array> {
  const { gradient } = await input.engine.gradient({ data: input.x, n: 1, height: input.height, width: input.width, channels: input.channels }, input.objective(1), 'none');
  return gradient;
}

/** Separable Gaussian blur with edge clamping, per channel. */
export function gaussianBlur(data: Float32Array, width: number, height: number, channels: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = Float32Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  kernel.forEach((v, i) => (kernel[i] = v / total));
  const pass = (src: Float32Array, horizontal: boolean) => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) {
          let s = 0;
          for (let k = -radius; k <= radius; k++) {
            const xx = horizontal ? Math.min(width - 1, Math.max(0, x + k)) : x;
            const yy = horizontal ? y : Math.min(height - 1, Math.max(0, y + k));
            s += kernel[k + radius]! * src[(yy * width + xx) * channels + c]!;
          }
          out[(y * width + x) * channels + c] = s;
        }
      }
    }
    return out;
  };
  return pass(pass(data, true), false);
}

export function baselineOf(input: Pick<MethodInput, 'x' | 'width' | 'height' | 'channels' | 'options'>): Float32Array {
  return input.options.baseline === 'zero' ? new Float32Array(input.x.length) : gaussianBlur(input.x, input.width, input.height, input.channels, input.options.blurSigma);
}

export const ATTRIBUTION_METHODS: Readonly<Record<string, AttributionMethod>> = Object.freeze({
  gradient: {
    signed: true,
    run: async (input) => ({ map: sumChannels(await plainGradient(input), input.width * input.height, input.channels) }),
  },
  'gradient-x-input': {
    signed: true,
    run: async (input) => {
      const g = await plainGradient(input);
      return { map: sumChannels(g.map((v, i) => v * input.x[i]!), input.width * input.height, input.channels) };
    },
  },
  smoothgrad: {
    signed: true,
    run: async (input) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of input.x) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const sd = input.options.sigma * (hi - lo || 1);
      const rng = createRng(input.options.seed);
      const samples = input.options.samples;
      // Noise is drawn in sample order, so the map does not depend on the chunk size.
      const { sum } = await gradientSum(input, samples, samples, (_, into) => {
        for (let p = 0; p < into.length; p++) into[p] = input.x[p]! + sd * rng.normal();
      });
      const mean = Float32Array.from(sum, (v) => v / samples);
      return { map: sumChannels(mean, input.width * input.height, input.channels) };
    },
  },
  'integrated-gradients': {
    signed: true,
    run: async (input) => {
      const base = baselineOf(input);
      const steps = input.options.steps;
      // Images 0..steps-1 are the path's midpoints; steps and steps+1 are x and the baseline, whose
      // objective values (for the completeness check) come from the same graph and chunks.
      const { sum, values } = await gradientSum(input, steps + 2, steps, (i, into) => {
        const alpha = i < steps ? (i + 0.5) / steps : i === steps ? 1 : 0;
        for (let p = 0; p < into.length; p++) into[p] = base[p]! + alpha * (input.x[p]! - base[p]!);
      });
      const attr = new Float32Array(input.x.length);
      let total = 0;
      for (let p = 0; p < attr.length; p++) {
        attr[p] = (sum[p]! / steps) * (input.x[p]! - base[p]!);
        total += attr[p]!;
      }
      return { map: sumChannels(attr, input.width * input.height, input.channels), completeness: { fx: values[steps]!, fBaseline: values[steps + 1]!, sum: total } };
    },
  },
  gradcam: {
    signed: false,
    run: async (input) => {
      const layer = input.options.layer!;
      const { activations: a, gradient: g } = await input.engine.layerGradient({ data: input.x, n: 1, height: input.height, width: input.width, channels: input.channels }, input.objective(1), layer);
      const c = a.channels;
      const pixels = a.height * a.width;
      const weights = new Float64Array(c);
      for (let p = 0; p < pixels; p++) for (let k = 0; k < c; k++) weights[k]! += g.data[p * c + k]! / pixels;
      const cam = new Float32Array(pixels);
      for (let p = 0; p < pixels; p++) {
        let s = 0;
        for (let k = 0; k < c; k++) s += weights[k]! * a.data[p * c + k]!;
        cam[p] = Math.max(0, s);
      }
      return { map: resize({ data: cam, width: a.width, height: a.height, channels: 1 }, input.width, input.height).data };
    },
  },
});

export const METHOD_NAMES = Object.freeze(Object.keys(ATTRIBUTION_METHODS)) as readonly string[];
