/**
 * The activations mode's pipeline. Each option's schema and default is the library's own
 * (activationsConfigSchema); the stages only say where in a pipeline it goes.
 */
import { z } from 'zod';
import { activationsConfigSchema, type ActivationsConfig } from '../../activations/activations.js';
import { modelStage } from '../../run/stages.js';

const option = activationsConfigSchema.shape;

export const activationsStages = {
  model: modelStage,
  seed: z.object({ inputs: option.inputs, include: option.include, window: option.window, seed: option.seed }).strict(),
  ascend: z.object({ mode: z.literal('activations'), layers: option.layers, channels: option.channels }).strict(),
  render: z.object({ colormap: option.colormap, columns: option.columns }).strict(),
  write: z.object({ out: option.out.default('outputs/activations'), raw: option.raw }).strict(),
};

export type ActivationsModeConfig = { [K in keyof typeof activationsStages]: z.infer<(typeof activationsStages)[K]> };

/** The library's config of a pipeline's. */
export function libraryConfig(c: ActivationsModeConfig): ActivationsConfig {
  const { mode: _mode, ...ascend } = c.ascend;
  return { model: c.model, ...c.seed, ...ascend, ...c.render, ...c.write };
}
