/** Stage schemas every mode shares. A mode's own stages live in its folder (src/modes/NAME/schema.ts). */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';

export const positiveInt = z.number().int().positive();

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

export type ModelStage = z.infer<typeof modelStage>;
