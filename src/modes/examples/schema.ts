/**
 * The examples mode's pipeline. Each option's schema and default is the library's own
 * (examplesConfigSchema); the stages only say where in a pipeline it goes.
 */
import { z } from 'zod';
import { examplesConfigSchema, type ExamplesConfig } from '../../examples/examples.js';
import { modelStage } from '../../run/stages.js';

const option = examplesConfigSchema.shape;

export const examplesStages = {
  model: modelStage,
  seed: z
    .object({ inputs: option.inputs, phantoms: option.phantoms, size: option.size, include: option.include, window: option.window, seed: option.seed })
    .strict(),
  ascend: z
    .object({ mode: z.literal('examples'), layers: option.layers, filters: option.filters, top: option.top, synthetic: option.synthetic, steps: option.steps, batch: option.batch })
    .strict(),
  write: z.object({ out: option.out.default('outputs/examples') }).strict(),
};

export type ExamplesModeConfig = { [K in keyof typeof examplesStages]: z.infer<(typeof examplesStages)[K]> };

/** The library's config of a pipeline's. */
export function libraryConfig(c: ExamplesModeConfig): ExamplesConfig {
  const { mode: _mode, ...ascend } = c.ascend;
  return { model: c.model, ...c.seed, ...ascend, ...c.write };
}
