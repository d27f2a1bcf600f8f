/**
 * Named ascent recipes: a frozen table from name to settings, so a config or flag names a recipe
 * and an unknown name lists the valid ones.
 */
import type { GradientNormalization } from '../engine/engine.js';
import { unknownNameError } from '../errors.js';

/**
 * The `lucid` recipe's parts (Olah et al. 2017; Lucid/Lucent's render loop): what the optimiser moves,
 * how, and what it must survive each step.
 */
export interface SpectralSettings {
  /** Exponent of the 1/f scaling of the coefficients (Lucid's decay_power, 1). */
  readonly decay: number;
  /** Standard deviation of the random starting coefficients (Lucid: 0.01: a near-grey start). */
  readonly sd: number;
  /** Mirror padding in pixels, rounded up so the padded size still suits the model's pooling. */
  readonly pad: number;
  /** Random circular shift of up to this many pixels, each step. */
  readonly jitter: number;
  /** Random zoom factor range [min, max], each step. */
  readonly scale: readonly [number, number];
  /** Random rotation of up to this many degrees either way, each step; 0 = off. */
  readonly rotate: number;
  /**
   * Steps, at the start of each octave's ascent, whose objective is the layer's pre-activation (before
   * its ReLU): a filter that is zero on the start image still gets a gradient. A filter still zero
   * afterwards is reported dead.
   */
  readonly rescueSteps: number;
  /** Regulariser weights (0 = off): total variation, L1 towards grey, blur. */
  readonly tv: number;
  readonly l1: number;
  readonly blur: number;
}

export interface Recipe {
  readonly name: string;
  readonly description: string;
  readonly init: string;
  readonly steps: number;
  readonly step: number;
  readonly normalize: GradientNormalization;
  /** Present for recipes that ascend a spectral parameterisation with Adam instead of pixels. */
  readonly spectral?: SpectralSettings;
}

export const LUCID_DEFAULTS: SpectralSettings = Object.freeze({
  decay: 1,
  sd: 0.01,
  pad: 8,
  jitter: 4,
  scale: Object.freeze([0.95, 1.05]) as readonly [number, number],
  rotate: 0,
  rescueSteps: 8,
  tv: 0,
  l1: 0,
  blur: 0,
});

export const RECIPES: Readonly<Record<string, Recipe>> = Object.freeze({
  seed: Object.freeze({
    name: 'seed',
    description:
      "the seed post's loop (Chollet's Keras example): loss = mean of the channel, g /= sqrt(mean(g^2)) + 1e-5, x += step * g, from uniform noise in [0, 2)",
    init: 'uniform:0:2',
    steps: 20,
    step: 1,
    normalize: 'rms',
  }),
  lucid: Object.freeze({
    name: 'lucid',
    description:
      'Lucid/Lucent-style: 1/f-scaled spectral (Hartley) coefficients through a sigmoid, Adam lr 0.05, each step mirror pad 8, jitter 4, zoom 0.95-1.05 (rotation off), pre-activation targeting for the first 8 steps of each octave',
    // The starting image is the spectral parameterisation's own near-grey noise; init is not used.
    init: 'uniform:0:2',
    // Lucid renders 512 steps; 32 keep a 7-layer sheet within minutes on 2 CPU cores (see BENCHMARKS.md).
    steps: 32,
    // Adam's learning rate on the spectral coefficients (Lucid's 0.05); the gradient is not normalised.
    step: 0.05,
    normalize: 'none',
    spectral: LUCID_DEFAULTS,
  }),
});

export const RECIPE_NAMES = Object.freeze(Object.keys(RECIPES));

export function getRecipe(name: string): Recipe {
  const recipe = RECIPES[name];
  if (!recipe) throw unknownNameError('recipe', name, RECIPE_NAMES);
  return recipe;
}
