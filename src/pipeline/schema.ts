/**
 * Pipeline configuration: each stage's options as a zod schema. The CLI commands and `run FILE`
 * both produce this shape, so a flag and a YAML key are validated by the same rules.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';
import { GRADIENT_NORMALIZATIONS } from '../engine/engine.js';
import { COLORMAPS } from '../render/colormap.js';
import { SEED_LAYERS } from '../model/unet.js';

const positiveInt = z.number().int().positive();

export const modelStage = z
  .object({
    source: z.string().min(1).default('builtin'),
    /** Architecture JSON for a weights-only Keras file. */
    architecture: z.string().min(1).optional(),
    backend: z.enum(BACKEND_CHOICES).default('auto'),
  })
  .strict();

export const seedStage = z
  .object({
    /** Starting image: uniform:LO:HI or gaussian:MEAN:STD. Default: the recipe's. */
    init: z.string().optional(),
    /** Image size; default: the model's own input size, or 128 for a model that takes any size. */
    size: positiveInt.optional(),
    seed: z.number().int().min(0).default(0),
  })
  .strict();

export const ascendStage = z
  .object({
    recipe: z.string().default('seed'),
    layers: z.array(z.string().min(1)).min(1).default([...SEED_LAYERS]),
    filters: z.string().default('random:16'),
    /** Default: the recipe's. */
    steps: z.number().int().min(0).optional(),
    step: z.number().positive().optional(),
    normalize: z.enum(GRADIENT_NORMALIZATIONS as [string, ...string[]]).optional(),
    batch: positiveInt.default(4),
    /** Worker threads, each with its own engine; default: one per core. */
    workers: positiveInt.optional(),
  })
  .strict();

export const renderStage = z
  .object({
    colormap: z.enum(COLORMAPS as [string, ...string[]]).default('viridis'),
    /** Min-max per tile (each filter's own contrast, like matplotlib's imshow) or one window per sheet. */
    normalize: z.enum(['tile', 'sheet']).default('tile'),
  })
  .strict();

export const tileStage = z
  .object({
    columns: positiveInt.default(8),
  })
  .strict();

export const writeStage = z
  .object({
    out: z.string().min(1).default('outputs/filters'),
    /** Also write each tile as its own PNG. */
    tiles: z.boolean().default(false),
  })
  .strict();

export type ModelStage = z.infer<typeof modelStage>;
export type SeedStage = z.infer<typeof seedStage>;
export type AscendStage = z.infer<typeof ascendStage>;
export type RenderStage = z.infer<typeof renderStage>;
export type TileStage = z.infer<typeof tileStage>;
export type WriteStage = z.infer<typeof writeStage>;

export interface PipelineConfig {
  model: ModelStage;
  seed: SeedStage;
  ascend: AscendStage;
  render: RenderStage;
  tile: TileStage;
  write: WriteStage;
}
