/**
 * Pipeline configuration: each stage's options as a zod schema. The CLI commands and `run FILE`
 * both produce this shape, so a flag and a YAML key are validated by the same rules.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';
import { GRADIENT_NORMALIZATIONS } from '../engine/engine.js';
import { COLORMAPS } from '../render/colormap.js';

const positiveInt = z.number().int().positive();

export const modelStage = z
  .object({
    source: z.string().min(1).default('builtin'),
    /** Architecture JSON for a weights-only Keras file. */
    architecture: z.string().min(1).optional(),
    backend: z.enum(BACKEND_CHOICES).default('auto'),
    /** ONNX Runtime: execution provider and intra-op threads (default: the cores, shared among workers). */
    device: z.enum(['cpu', 'cuda']).default('cpu'),
    threads: positiveInt.optional(),
  })
  .strict();

export const seedStage = z
  .object({
    /**
     * Filters mode: the starting image, uniform:LO:HI, gaussian:MEAN:STD, phantom:shepp-logan,
     * phantom:random, image:PATH, aliased:phantom or aliased:PATH. Default: the recipe's.
     */
    init: z.string().optional(),
    /** Image size; default: the model's own input size, or 128 for a model that takes any size. */
    size: positiveInt.optional(),
    seed: z.number().int().min(0).default(0),
    /** k-space undersampling for aliased: seeds. */
    acceleration: z.number().min(1).default(4),
    center: z.number().min(0).max(1).default(0.08),
    /** Dream mode: files (file.nii.gz#z=40) and folders to dream on. */
    inputs: z.array(z.string().min(1)).optional(),
    /** Glob filter for folders, e.g. "*.dcm". */
    include: z.string().optional(),
    axis: z.enum(['x', 'y', 'z']).optional(),
    volume: z.number().int().min(0).optional(),
    /** Input percentiles mapped to the network's [0, 1]. */
    window: z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]).default([0.5, 99.5]),
  })
  .strict();

export const ascendStage = z
  .object({
    /** filters: per-filter visualizations from a seed image; dream: DeepDream on input images. */
    mode: z.enum(['filters', 'dream']).default('filters'),
    recipe: z.string().default('seed'),
    /** Filters: layer names (default the seed's seven). Dream: LAYER, LAYER:WEIGHT or LAYER#FILTER (default uconv128). */
    layers: z.array(z.string().min(1)).min(1).optional(),
    filters: z.string().default('random:16'),
    /** Default: the recipe's. */
    steps: z.number().int().min(0).optional(),
    step: z.number().positive().optional(),
    normalize: z.enum(GRADIENT_NORMALIZATIONS as [string, ...string[]]).optional(),
    batch: positiveInt.default(1),
    /** Worker threads, each with its own engine; default: one per core. */
    workers: positiveInt.optional(),
    /** Dream: mean or mean-squared activation, octaves, jitter, tiles, colour handling. */
    objective: z.enum(['mean', 'l2']).default('mean'),
    /** Sizes ascended, smallest first (default: dream 4; filters 1, the seed's single size). */
    octaves: positiveInt.optional(),
    /** Size ratio between octaves (default 1.4). */
    octaveScale: z.number().gt(1).optional(),
    /** Filters: a neuron objective, the unit at [y, x] as fractions of the layer's height and width (0.5 = centre). */
    neuron: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
    /** Filters: minimise the filter instead of maximising it. */
    negative: z.boolean().default(false),
    /** Filters: overrides of a spectral recipe's (lucid's) settings. */
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
    jitter: z.number().int().min(0).default(32),
    tile: positiveInt.default(512),
    /** Default: the model's receptive field - 1 (exact tiled gradients), rounded up to its pooling factor. */
    halo: z.number().int().min(0).optional(),
    color: z.enum(['luminance', 'gray']).default('luminance'),
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
    /** Dream outputs: png, tiff, nii or dcm (default: MR inputs keep their format, photos PNG). */
    format: z.enum(['png', 'tiff', 'nii', 'dcm']).optional(),
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
