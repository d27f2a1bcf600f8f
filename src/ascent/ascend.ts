/** Gradient ascent on the input: the seed's loop, for a whole batch at once. */
import type { Batch, Engine, GradientNormalization, Objective } from '../engine/engine.js';

export interface AscentParams {
  steps: number;
  step: number;
  normalize: GradientNormalization;
}

export interface AscentResult {
  image: Batch;
  /** Objective per image before the first step. */
  start: Float32Array;
  /** Objective per image after the last step. */
  end: Float32Array;
}

export type StepListener = (step: number, values: Float32Array) => void;

export async function ascend(
  engine: Engine,
  initial: Batch,
  objective: Objective,
  params: AscentParams,
  onStep?: StepListener,
): Promise<AscentResult> {
  const image: Batch = { ...initial, data: Float32Array.from(initial.data) };
  let start: Float32Array | undefined;
  for (let i = 0; i < params.steps; i++) {
    const { values, gradient } = await engine.gradient(image, objective, params.normalize);
    start ??= values;
    const x = image.data;
    for (let j = 0; j < x.length; j++) x[j]! += params.step * gradient[j]!;
    onStep?.(i + 1, values);
  }
  const end = await engine.evaluate(image, objective);
  return { image, start: start ?? end, end };
}
