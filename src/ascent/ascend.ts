/** Gradient ascent on the input: the seed's loop, for a whole batch at once. */
import type { Batch, Engine, GradientNormalization, Objective } from '../engine/engine.js';

export interface AscentParams {
  steps: number;
  step: number;
  normalize: GradientNormalization;
  /** Keep a copy of the batch every this many steps (for animations); 0 or absent keeps none. */
  recordEvery?: number;
}

export interface AscentResult {
  image: Batch;
  /** Objective per image before the first step. */
  start: Float32Array;
  /** Objective per image after the last step. */
  end: Float32Array;
  /**
   * Images whose gradient was exactly zero at every step: a dead unit (a ReLU that never fires on
   * this input). No gradient method can move them; reports say so instead of showing noise as a result.
   */
  dead: boolean[];
  /** Objective per image at every step, then after the last: steps + 1 values, start to end. */
  curves: number[][];
  /** With recordEvery: the batch's data before step 0 and every recordEvery steps, and at the end. */
  frames?: Float32Array[];
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
  const pixels = image.height * image.width * image.channels;
  const dead = Array.from({ length: image.n }, () => params.steps > 0);
  const curves: number[][] = Array.from({ length: image.n }, () => []);
  const every = params.recordEvery ?? 0;
  const frames: Float32Array[] | undefined = every > 0 ? [Float32Array.from(image.data)] : undefined;
  for (let i = 0; i < params.steps; i++) {
    const { values, gradient } = await engine.gradient(image, objective, params.normalize);
    start ??= values;
    for (let b = 0; b < image.n; b++) {
      if (!dead[b]) continue;
      for (let p = b * pixels; p < (b + 1) * pixels; p++) {
        if (gradient[p] !== 0) {
          dead[b] = false;
          break;
        }
      }
    }
    const x = image.data;
    for (let j = 0; j < x.length; j++) x[j]! += params.step * gradient[j]!;
    for (let b = 0; b < image.n; b++) curves[b]!.push(values[b]!);
    if (frames && (i + 1) % every === 0 && i + 1 < params.steps) frames.push(Float32Array.from(x));
    onStep?.(i + 1, values);
  }
  const end = await engine.evaluate(image, objective);
  for (let b = 0; b < image.n; b++) curves[b]!.push(end[b]!);
  if (frames && params.steps > 0) frames.push(Float32Array.from(image.data));
  return { image, start: start ?? end, end, dead, curves, ...(frames ? { frames } : {}) };
}
