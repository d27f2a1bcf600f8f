/**
 * The attribute mode's pipeline. Each option's schema and default is the library's own
 * (attributeConfigSchema); the stages only say where in a pipeline it goes.
 */
import { z } from 'zod';
import { attributeConfigSchema, type AttributeConfig } from '../../attribution/attribute.js';
import { modelStage } from '../../run/stages.js';

const option = attributeConfigSchema.shape;

export const attributeStages = {
  model: modelStage,
  seed: z.object({ inputs: option.inputs, include: option.include, window: option.window, seed: option.seed }).strict(),
  ascend: z
    .object({
      mode: z.literal('attribute'),
      target: option.target,
      method: option.method,
      layer: option.layer,
      samples: option.samples,
      sigma: option.sigma,
      steps: option.steps,
      baseline: option.baseline,
      blurSigma: option.blurSigma,
      batch: option.batch,
      memory: option.memory,
    })
    .strict(),
  write: z.object({ out: option.out.default('outputs/attribute') }).strict(),
};

export type AttributeModeConfig = { [K in keyof typeof attributeStages]: z.infer<(typeof attributeStages)[K]> };

/** The library's config of a pipeline's. */
export function libraryConfig(c: AttributeModeConfig): AttributeConfig {
  const { mode: _mode, ...ascend } = c.ascend;
  return { model: c.model, ...c.seed, ...ascend, ...c.write };
}
