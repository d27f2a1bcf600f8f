/** The filters mode's pipeline: every stage it reads and each option's default, written once here. */
import { z } from 'zod';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { COLORMAPS } from '../../render/colormap.js';
import { WINDOW_MODE_NAMES } from '../../render/tile.js';
import { modelStage, positiveInt } from '../../run/stages.js';

export const filtersStages = {
  model: modelStage,
  seed: z
    .object({
      /**
       * The starting image: uniform:LO:HI, gaussian:MEAN:STD, phantom:shepp-logan, phantom:random,
       * image:PATH, aliased:phantom or aliased:PATH. Default: the recipe's.
       */
      init: z.string().optional(),
      /** Image size; default: the model's own input size, or 128 for a model that takes any size. */
      size: positiveInt.optional(),
      seed: z.number().int().min(0).default(0),
      /** k-space undersampling for aliased: seeds. */
      acceleration: z.number().min(1).default(4),
      center: z.number().min(0).max(1).default(0.08),
    })
    .strict(),
  ascend: z
    .object({
      mode: z.literal('filters').default('filters'),
      recipe: z.string().default('seed'),
      /** Layer names; default: the seed's seven convolutions. */
      layers: z.array(z.string().min(1)).min(1).optional(),
      filters: z.string().default('random:16'),
      /** Steps, step size and gradient normalisation; default: the recipe's. */
      steps: z.number().int().min(0).optional(),
      step: z.number().positive().optional(),
      normalize: z.enum(GRADIENT_NORMALIZATIONS as [string, ...string[]]).optional(),
      /** Filters optimised together, one per batch image. */
      batch: positiveInt.default(1),
      /** Worker threads, each with its own engine; default: the engine's plan (see planParallelism). */
      workers: positiveInt.optional(),
      /** Sizes ascended, smallest first, each upscaled into the next; 1 is the seed's single size. */
      octaves: positiveInt.default(1),
      /** Size ratio between octaves. */
      octaveScale: z.number().gt(1).default(1.4),
      /** A neuron objective: the unit at [y, x] as fractions of the layer's height and width (0.5 = centre). */
      neuron: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
      /** Minimise each filter instead of maximising it. */
      negative: z.boolean().default(false),
      /**
       * Diversity objective (spectral recipes): this many images per filter, optimised together with a
       * penalty on the similarity of their Gram matrices at the filter's layer; 1 = off.
       */
      diversity: positiveInt.default(1),
      /** The penalty's weight against the filter's mean activation (Lucid's example uses 100). */
      diversityWeight: z.number().min(0).default(100),
      /** Overrides of a spectral recipe's (lucid's) settings; the recipe's own are in ascent/recipes.ts. */
      lucid: z
        .object({
          decay: z.number().min(0),
          sd: z.number().positive(),
          pad: z.number().int().min(0),
          jitter: z.number().int().min(0),
          scale: z.tuple([z.number().positive(), z.number().positive()]),
          rotate: z.number().min(0).max(180),
          rescueSteps: z.number().int().min(0),
          tv: z.number().min(0),
          l1: z.number().min(0),
          blur: z.number().min(0),
        })
        .partial()
        .strict()
        .optional(),
    })
    .strict(),
  render: z
    .object({
      colormap: z.enum(COLORMAPS as [string, ...string[]]).default('viridis'),
      /** Min-max per tile (each filter's own contrast, like matplotlib's imshow), one window per sheet, or per-tile 1st-99th percentiles. */
      normalize: z.enum(WINDOW_MODE_NAMES as [string, ...string[]]).default('tile'),
      /** Sheets as PNG, or PNG plus a vector SVG (text and colour bar as paths, tiles embedded). */
      format: z.enum(['png', 'svg']).default('png'),
    })
    .strict(),
  tile: z.object({ columns: positiveInt.default(8) }).strict(),
  write: z
    .object({
      out: z.string().min(1).default('outputs/filters'),
      /** Also write each tile as its own PNG. */
      tiles: z.boolean().default(false),
      /** Also write an animated WebP of each filter's ascent. */
      animate: z.boolean().default(false),
    })
    .strict(),
};

export type FiltersConfig = { [K in keyof typeof filtersStages]: z.infer<(typeof filtersStages)[K]> };
