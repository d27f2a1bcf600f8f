/**
 * What the three real-slice modes (activations, attribute, examples) share in their configs: the
 * model options and the percentile window.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';

export const modelOptions = z
  .object({
    source: z.string().min(1).default('builtin'),
    architecture: z.string().min(1).optional(),
    backend: z.enum(BACKEND_CHOICES).default('auto'),
    device: z.enum(['cpu', 'cuda']).default('cpu'),
    threads: z.number().int().positive().optional(),
  })
  .strict();
export type ModelOptions = z.infer<typeof modelOptions>;

export const percentileWindow = z
  .tuple([z.number().min(0).max(100), z.number().min(0).max(100)])
  .refine((w) => w[0] < w[1], 'percentiles LOW,HIGH with 0 <= LOW < HIGH <= 100')
  .default([0.5, 99.5]);
