/**
 * Named ascent recipes: a frozen table from name to settings, so a config or flag names a recipe
 * and an unknown name lists the valid ones.
 */
import type { GradientNormalization } from '../engine/engine.js';
import { unknownNameError } from '../errors.js';

export interface Recipe {
  readonly name: string;
  readonly description: string;
  readonly init: string;
  readonly steps: number;
  readonly step: number;
  readonly normalize: GradientNormalization;
}

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
});

export const RECIPE_NAMES = Object.freeze(Object.keys(RECIPES));

export function getRecipe(name: string): Recipe {
  const recipe = RECIPES[name];
  if (!recipe) throw unknownNameError('recipe', name, RECIPE_NAMES);
  return recipe;
}
