/**
 * What the three real-slice modes (activations, attribute, examples) share in their configs: the
 * model options, the window, and one formatter that turns a zod issue into the one-line
 * `Expected <what> for --<option> but received <value>` the rest of the CLI prints.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../engine/backend.js';
import { invalidParameterError, UsageError } from '../errors.js';

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

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function valueAt(raw: unknown, keys: PropertyKey[]): unknown {
  let cur = raw;
  for (const k of keys) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}

/** Parses `raw` with `schema`; the first problem becomes a UsageError (exit 2) naming the option. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const keys = issue.path as PropertyKey[];
  // model.* options are the common flags (--backend, --threads); others are the mode's own.
  const option = `--${kebab(String(keys[0] === 'model' ? (keys[1] ?? 'model') : (keys[0] ?? 'config')))}`;

  const expected =
    issue.code === 'invalid_value'
      ? `one of ${issue.values.map((v) => String(v)).join(', ')}`
      : issue.code === 'invalid_type'
        ? issue.expected === 'int' ? 'an integer' : issue.expected
        : issue.message.replace(/^(Invalid input: )?(expected )?/i, '').replace(/^Too (small|big): expected \S+ to (have|be) /, '');
  const value = valueAt(raw, keys.slice(0, keys[0] === 'model' ? 2 : 1));
  throw invalidParameterError(option, expected, value);
}
