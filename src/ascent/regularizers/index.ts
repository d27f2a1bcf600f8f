/** The regularisers a recipe can name: a frozen table from name to penalty. */
import { blur } from './blur.js';
import { l1 } from './l1.js';
import { totalVariation } from './tv.js';
import type { Regularizer } from './regularizer.js';

export type RegularizerName = 'tv' | 'l1' | 'blur';

export const REGULARIZERS: Readonly<Record<RegularizerName, Regularizer>> = Object.freeze({
  tv: totalVariation,
  l1: l1(0.5),
  blur,
});

export const REGULARIZER_NAMES = Object.freeze(Object.keys(REGULARIZERS)) as readonly RegularizerName[];
export type { Penalty, Regularizer } from './regularizer.js';
