/**
 * The `lucid` recipe's ascent: Adam on 1/f-scaled spectral coefficients, the image a sigmoid of their
 * Hartley transform, and each step a fresh random pad/jitter/zoom(/rotation) between the image and the
 * engine, whose input gradient is carried back through each transform's adjoint, the sigmoid and the
 * spectral map. The first `rescueSteps` target the layer's pre-activation so a filter that is zero
 * on the start image still moves.
 */
import type { Batch, Engine, Objective } from '../engine/engine.js';
import type { SpectralSettings } from './recipes.js';
import { SpectralParam } from './param/spectral.js';
import { logit, sigmoid, sigmoidBackward } from './param/sigmoid.js';
import { compose, jitter, pad, randomRotate, randomScale, type ImageShape, type Transform } from './transform/index.js';
import { AdamAscent } from './optim/adam.js';
import { REGULARIZERS, REGULARIZER_NAMES } from './regularizers/index.js';
import type { Rng } from '../random.js';
import type { AscentResult, StepListener } from './ascend.js';
import { diverseStep, diversityOf, type DiversitySettings } from './diversity.js';

export interface SpectralAscentParams {
  steps: number;
  /** Adam's learning rate. */
  lr: number;
  settings: SpectralSettings;
  /** The model's total pooling factor: the padded size must stay divisible by it. */
  divisor: number;
  /** Per-image random streams for a step's transforms. */
  stepRngs: (step: number) => Rng[];
  /** Images in groups of `copies` per filter, pushed apart by a Gram-matrix penalty (after the rescue steps). */
  diversity?: DiversitySettings;
}

/** The smallest padding >= `amount` that keeps size + 2 * pad divisible by `divisor`. */
export function paddingFor(amount: number, divisor: number): number {
  let p = Math.max(0, Math.ceil(amount));
  while ((2 * p) % divisor !== 0) p++;
  return p;
}

export function transformsOf(settings: SpectralSettings, divisor: number): Transform[] {
  const stages: Transform[] = [];
  if (settings.jitter > 0) stages.push(jitter(settings.jitter));
  const p = paddingFor(settings.pad, divisor);
  if (p > 0) stages.push(pad(p));
  if (settings.scale[0] !== 1 || settings.scale[1] !== 1) stages.push(randomScale(settings.scale[0], settings.scale[1]));
  if (settings.rotate > 0) stages.push(randomRotate(settings.rotate));
  return stages;
}

export interface SpectralState {
  /** Pre-sigmoid image (NHWC) the ascent starts from. */
  logits: Float32Array;
  shape: ImageShape;
}

export interface SpectralResult extends AscentResult {
  /** The final pre-sigmoid image, for the next octave. */
  logits: Float32Array;
  /** With diversity: each group's mean pairwise Gram distance on the final images. */
  diversity?: number[];
}

/** Random spectral coefficients' image: Lucid's near-grey start. */
export function spectralStart(shape: ImageShape, settings: SpectralSettings, rngs: Rng[]): Float32Array {
  const param = new SpectralParam(shape, settings.decay);
  return param.toImage(SpectralParam.randomParams(shape, rngs, settings.sd));
}

export async function ascendSpectral(
  engine: Engine,
  start: SpectralState,
  objective: Extract<Objective, { kind: 'filter' }>,
  params: SpectralAscentParams,
  onStep?: StepListener,
): Promise<SpectralResult> {
  const { shape, settings } = { shape: start.shape, settings: params.settings };
  const param = new SpectralParam(shape, settings.decay);
  const coefficients = param.fromImage(start.logits);
  const adam = new AdamAscent(coefficients.length, params.lr);
  const stages = transformsOf(settings, params.divisor);
  const regularizers = REGULARIZER_NAMES.filter((name) => settings[name] > 0);
  // One buffer each for the step's logits, pixels and chained gradient: a step allocates only what the engine returns.
  const logitsBuffer = new Float32Array(param.size);
  const pixelsBuffer = new Float32Array(param.size);
  const chained = new Float32Array(param.size);
  const coefficientGradient = new Float32Array(param.size);
  const pixelsOf = (c: Float32Array) => sigmoid(param.toImage(c, logitsBuffer), pixelsBuffer);
  const asBatch = (data: Float32Array, s: ImageShape): Batch => ({ data, ...s });

  const startValues = await engine.evaluate(asBatch(Float32Array.from(pixelsOf(coefficients)), shape), objective);
  // Dead until a step after the rescue sees a gradient; with no such step, judged by the end values.
  const live = Array.from({ length: shape.n }, () => false);
  const rescue = Math.min(settings.rescueSteps, params.steps);
  // The objective each step saw (on the transformed image), then the end value: the report's curve.
  const curves: number[][] = Array.from({ length: shape.n }, () => []);
  for (let i = 0; i < params.steps; i++) {
    const pixels = pixelsOf(coefficients);
    const t = compose(stages, shape, params.stepRngs(i));
    const seen = asBatch(t.forward(pixels), t.output);
    let values: Float32Array;
    let gradient: Float32Array;
    if (params.diversity && i >= rescue) {
      // A filter term still zero has no gradient of its own, whatever the penalty adds: judged by its value.
      ({ values, gradient } = await diverseStep(engine, seen, objective, params.diversity));
      values.forEach((v, b) => (live[b] ||= v !== 0));
    } else {
      const target = i < rescue ? { ...objective, preActivation: true } : objective;
      ({ values, gradient } = await engine.gradient(seen, target, 'none'));
    }
    if (i >= rescue && !params.diversity) {
      for (let b = 0; b < shape.n; b++) {
        if (live[b]) continue;
        for (let p = b * t.output.height * t.output.width * t.output.channels, end = p + t.output.height * t.output.width * t.output.channels; p < end; p++) {
          if (gradient[p] !== 0) {
            live[b] = true;
            break;
          }
        }
      }
    }
    const g = t.adjoint(gradient);
    for (const name of regularizers) {
      const weight = settings[name];
      const penalty = REGULARIZERS[name](pixels, shape);
      for (let j = 0; j < g.length; j++) g[j] = g[j]! - weight * penalty.gradient[j]!;
    }
    adam.step(coefficients, param.adjoint(sigmoidBackward(pixels, g, chained), coefficientGradient));
    for (let b = 0; b < shape.n; b++) curves[b]!.push(values[b]!);
    onStep?.(i + 1, values);
  }
  const logits = param.toImage(coefficients);
  const image = sigmoid(logits);
  const end = await engine.evaluate(asBatch(image, shape), objective);
  const dead = live.map((l, b) => (rescue < params.steps ? !l : end[b] === 0));
  for (let b = 0; b < shape.n; b++) curves[b]!.push(end[b]!);
  const diversity = params.diversity && (await diversityOf(engine, asBatch(image, shape), objective.layer, params.diversity.copies));
  return { image: asBatch(image, shape), start: startValues, end, dead, curves, logits, ...(diversity ? { diversity } : {}) };
}

/** The pre-sigmoid image of pixels from another source (an upscaled octave, a start image). */
export { logit };
