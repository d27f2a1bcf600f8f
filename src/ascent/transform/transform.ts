/**
 * Transformation robustness (Olah et al. 2017): each step the optimiser sees the image padded,
 * jittered, slightly rescaled (and optionally rotated), so the result must excite the unit under all
 * of them instead of exploiting one pixel grid. Every transform is linear in the pixels; its adjoint
 * carries the engine's input gradient back to the untransformed image.
 */
import type { Rng } from '../../random.js';

export interface ImageShape {
  n: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * A linear resampling written out: output pixel p of an image reads `perPixel` input pixels,
 * out[p] = sum_j weight[p * perPixel + j] * in[index[p * perPixel + j]] (indices within one image's
 * plane; every channel alike). Pad, jitter, scale and rotation are all of this form, so a chain of
 * them fuses into one such map: the network's input is then made in one pass and its gradient
 * carried back in one, instead of one pass (and one image-sized array) per stage.
 */
export interface Taps {
  readonly perPixel: number;
  readonly index: Int32Array;
  readonly weight: Float32Array;
}

/** One draw of a transform: fixed random parameters, a forward map and its exact adjoint. */
export interface AppliedTransform {
  readonly input: ImageShape;
  readonly output: ImageShape;
  forward(x: Float32Array): Float32Array;
  /** The transpose of forward: d(loss)/d(input) from d(loss)/d(output). */
  adjoint(g: Float32Array): Float32Array;
  /** The same map as taps, one per batch image (images may share one). */
  readonly taps?: readonly Taps[];
}

/** A transform family; `sample` draws each batch image's own parameters from that image's rng. */
export interface Transform {
  readonly name: string;
  sample(shape: ImageShape, rngs: readonly Rng[]): AppliedTransform;
}

export function shapeSize(s: ImageShape): number {
  return s.n * s.height * s.width * s.channels;
}

/** The applied transform of per-image taps: a gather forward, a scatter adjoint. */
export function fromTaps(input: ImageShape, output: ImageShape, taps: readonly Taps[]): AppliedTransform {
  const { n, channels: c } = input;
  const inPlane = input.height * input.width;
  const outPlane = output.height * output.width;
  return {
    input,
    output,
    taps,
    forward(x) {
      const out = new Float32Array(n * outPlane * c);
      for (let b = 0; b < n; b++) {
        const { perPixel: k, index, weight } = taps[b]!;
        const from = b * inPlane * c;
        for (let p = 0, o = b * outPlane * c; p < outPlane; p++) {
          for (let ch = 0; ch < c; ch++, o++) {
            let sum = 0;
            for (let j = p * k, end = j + k; j < end; j++) sum += weight[j]! * x[from + index[j]! * c + ch]!;
            out[o] = sum;
          }
        }
      }
      return out;
    },
    adjoint(g) {
      const out = new Float32Array(n * inPlane * c);
      for (let b = 0; b < n; b++) {
        const { perPixel: k, index, weight } = taps[b]!;
        const to = b * inPlane * c;
        for (let p = 0, o = b * outPlane * c; p < outPlane; p++) {
          for (let ch = 0; ch < c; ch++, o++) {
            const v = g[o]!;
            if (v === 0) continue;
            for (let j = p * k, end = j + k; j < end; j++) {
              const at = to + index[j]! * c + ch;
              out[at] = out[at]! + weight[j]! * v;
            }
          }
        }
      }
      return out;
    },
  };
}

/** Taps of `later` after `earlier`: each of later's taps expanded into the earlier taps of the pixel it reads. */
function fuseTaps(earlier: Taps, later: Taps, outPlane: number): Taps {
  const k = earlier.perPixel * later.perPixel;
  const index = new Int32Array(outPlane * k);
  const weight = new Float32Array(outPlane * k);
  if (earlier.perPixel === 1) {
    // A copy (pad, jitter) before: each tap just reads through it (the common lucid chain).
    for (let t = 0; t < index.length; t++) {
      const q = later.index[t]!;
      index[t] = earlier.index[q]!;
      weight[t] = later.weight[t]! * earlier.weight[q]!;
    }
    return { perPixel: k, index, weight };
  }
  for (let p = 0, t = 0; p < outPlane; p++) {
    for (let j = p * later.perPixel, end = j + later.perPixel; j < end; j++) {
      const q = later.index[j]!;
      const w = later.weight[j]!;
      for (let i = q * earlier.perPixel, e = i + earlier.perPixel; i < e; i++, t++) {
        index[t] = earlier.index[i]!;
        weight[t] = w * earlier.weight[i]!;
      }
    }
  }
  return { perPixel: k, index, weight };
}

/** Applies `stages` in order; the adjoint runs them backwards. Stages given as taps are fused into one map. */
export function compose(stages: readonly Transform[], shape: ImageShape, rngs: readonly Rng[]): AppliedTransform {
  const applied: AppliedTransform[] = [];
  let current = shape;
  for (const stage of stages) {
    const a = stage.sample(current, rngs);
    applied.push(a);
    current = a.output;
  }
  if (applied.length > 0 && applied.every((a) => a.taps)) {
    const taps = Array.from({ length: shape.n }, (_, b) =>
      applied.slice(1).reduce((acc, a) => fuseTaps(acc, a.taps![b]!, a.output.height * a.output.width), applied[0]!.taps![b]!),
    );
    return fromTaps(shape, current, taps);
  }
  return {
    input: shape,
    output: current,
    forward: (x) => applied.reduce((v, a) => a.forward(v), x),
    adjoint: (g) => applied.reduceRight((v, a) => a.adjoint(v), g),
  };
}

/** Uniform integer in [-max, max]. */
export function uniformInt(rng: Rng, max: number): number {
  return rng.int(2 * max + 1) - max;
}
