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

/** One draw of a transform: fixed random parameters, a forward map and its exact adjoint. */
export interface AppliedTransform {
  readonly input: ImageShape;
  readonly output: ImageShape;
  forward(x: Float32Array): Float32Array;
  /** The transpose of forward: d(loss)/d(input) from d(loss)/d(output). */
  adjoint(g: Float32Array): Float32Array;
}

/** A transform family; `sample` draws each batch image's own parameters from that image's rng. */
export interface Transform {
  readonly name: string;
  sample(shape: ImageShape, rngs: readonly Rng[]): AppliedTransform;
}

export function shapeSize(s: ImageShape): number {
  return s.n * s.height * s.width * s.channels;
}

/** Applies `stages` in order; the adjoint runs them backwards. */
export function compose(stages: readonly Transform[], shape: ImageShape, rngs: readonly Rng[]): AppliedTransform {
  const applied: AppliedTransform[] = [];
  let current = shape;
  for (const stage of stages) {
    const a = stage.sample(current, rngs);
    applied.push(a);
    current = a.output;
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
