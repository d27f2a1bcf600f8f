/** The dream mode's pipeline: every stage it reads and each option's default, written once here. */
import { z } from 'zod';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { RANGE_MODES } from '../../io/intensity.js';
import { modelStage, positiveInt } from '../../run/stages.js';

export const OUTPUT_FORMATS = Object.freeze(['png', 'tiff', 'nii', 'dcm'] as const);
export type OutputFormatName = (typeof OUTPUT_FORMATS)[number];

export const dreamStages = {
  model: modelStage,
  seed: z
    .object({
      /** Files (file.nii.gz#z=40, file.dcm#frame=3) and folders to dream on. */
      inputs: z.array(z.string().min(1)).min(1),
      /** Glob filter for folders, e.g. "*.dcm". */
      include: z.string().optional(),
      axis: z.enum(['x', 'y', 'z']).optional(),
      volume: z.number().int().min(0).optional(),
      /** Input percentiles mapped to the network's [0, 1]. */
      window: z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]).default([0.5, 99.5]),
      /** Seeds the jitter. */
      seed: z.number().int().min(0).default(0),
    })
    .strict(),
  ascend: z
    .object({
      mode: z.literal('dream'),
      /** LAYER, LAYER:WEIGHT or LAYER#FILTER; several entries (or comma-separated terms) add up. */
      layers: z.array(z.string().min(1)).min(1).default(['uconv128']),
      /** Mean or mean-squared activation. */
      objective: z.enum(['mean', 'l2']).default('mean'),
      octaves: positiveInt.default(4),
      octaveScale: z.number().gt(1).default(1.4),
      /** Steps per octave. */
      steps: z.number().int().min(0).default(10),
      step: z.number().positive().default(0.01),
      normalize: z.enum(GRADIENT_NORMALIZATIONS as [string, ...string[]]).default('rms'),
      /** Random roll per step, pixels. */
      jitter: z.number().int().min(0).default(32),
      /** Gradient tile size (bounds memory) and the context around each tile. */
      tile: positiveInt.default(512),
      /** Default: the model's receptive field - 1 at the objective's layers (exact tiled gradients), rounded up to its pooling factor. */
      halo: z.number().int().min(0).optional(),
      /** RGB photos: dream on luminance and keep chroma, or convert to gray. */
      color: z.enum(['luminance', 'gray']).default('luminance'),
    })
    .strict(),
  write: z
    .object({
      out: z.string().min(1).default('outputs/dream'),
      /** Default: MR inputs keep their format, photos PNG. */
      format: z.enum(OUTPUT_FORMATS).optional(),
      /** Also write an animated WebP of each dream's ascent (first slice). */
      animate: z.boolean().default(false),
      /**
       * Output values bounded to the input's value range ('input': a magnitude image stays non-negative), or left
       * as the network made them ('free'). See docs/INPUTS.md, "Output value range".
       */
      range: z.enum(RANGE_MODES as [string, ...string[]]).default('input'),
    })
    .strict(),
};

export type DreamConfig = { [K in keyof typeof dreamStages]: z.infer<(typeof dreamStages)[K]> };
