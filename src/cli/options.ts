/** Option builders shared by every command, so a flag means the same everywhere. */
import type { Argv } from 'yargs';
import type { z } from 'zod';
import { BACKEND_CHOICES, type BackendChoice } from '../engine/backend.js';
import { modelStage } from '../run/stages.js';
import { MASK_AXES, MASK_PATTERNS, type MaskAxis, type MaskPattern } from '../mri/index.js';

export interface CommonArgs {
  model: string;
  architecture?: string;
  backend: BackendChoice;
  device: 'cpu' | 'cuda';
  threads?: number;
  seed?: number;
  out?: string;
  json: boolean;
  verbose: boolean;
}

/** The model stage's defaults, from its schema: the flags show and use the same values a pipeline file gets. */
export const MODEL_DEFAULTS = modelStage.parse({});

/**
 * The option groups; a command takes only the groups it uses, so its --help lists nothing it ignores.
 * withCommonOptions is every group, for the commands that run a pipeline.
 */
export function withCommonOptions<T>(yargs: Argv<T>) {
  return withOutputOptions(withOutOption(withSeedOption(withModelOptions(yargs))));
}

/** --model and --architecture: which network. */
export function withModelSourceOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('model', { type: 'string', default: MODEL_DEFAULTS.source, describe: 'builtin, a Keras .h5, or a TensorFlow.js model.json (or its directory)' })
    .option('architecture', { type: 'string', describe: 'model JSON for a weights-only Keras .h5 file' });
}

/** --backend: which engine computes. */
export function withBackendOption<T>(yargs: Argv<T>) {
  return yargs.option('backend', { choices: BACKEND_CHOICES, default: MODEL_DEFAULTS.backend as BackendChoice, describe: 'engine backend; auto picks the fastest that loads' });
}

/** --device and --threads: ONNX Runtime's settings. */
export function withRuntimeOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('device', { choices: ['cpu', 'cuda'] as const, default: MODEL_DEFAULTS.device, describe: 'ONNX Runtime execution provider (cuda needs its CUDA 12 binaries: see README)' })
    .option('threads', { type: 'number', describe: 'ONNX Runtime threads per engine (default: cores shared among workers)' });
}

/** The model, its engine and the runtime's settings. */
export function withModelOptions<T>(yargs: Argv<T>) {
  return withRuntimeOptions(withBackendOption(withModelSourceOptions(yargs)));
}

export function withSeedOption<T>(yargs: Argv<T>) {
  return yargs.option('seed', { type: 'number', describe: 'random seed: the same seed gives the same output' });
}

export function withOutOption<T>(yargs: Argv<T>, describe = 'output folder') {
  return yargs.option('out', { type: 'string', describe });
}

/** --json and --verbose: every command has them. */
export function withOutputOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('json', { type: 'boolean', default: false, describe: 'print the machine-readable summary (the manifest) on stdout' })
    .option('verbose', { type: 'boolean', default: false, describe: 'say what is chosen and why; show stacks on errors' });
}

/** Comma-separated list option value to array. */
export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The model stage the common flags set: only values that differ from the schema's defaults. */
export function modelConfig(args: CommonArgs): Partial<z.input<typeof modelStage>> {
  return defined({
    source: args.model !== MODEL_DEFAULTS.source ? args.model : undefined,
    architecture: args.architecture,
    backend: args.backend !== MODEL_DEFAULTS.backend ? args.backend : undefined,
    device: args.device !== MODEL_DEFAULTS.device ? args.device : undefined,
    threads: args.threads,
  });
}

/** Drops undefined values, so unset flags leave the schema's defaults in place. */
export function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A flag's help text with the default its schema gives, so help and behaviour cannot disagree. */
export function withDefault(text: string, stage: z.ZodObject, key: string): string {
  const value = (stage.shape[key] as z.ZodType).safeParse(undefined);
  return value.success && value.data !== undefined ? `${text} (default ${Array.isArray(value.data) ? value.data.join(',') : String(value.data)})` : text;
}

/** Config paths the common flags set, for messages that name the flag rather than the path. */
export const COMMON_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  'model.source': '--model',
  'model.architecture': '--architecture',
  'model.backend': '--backend',
  'model.device': '--device',
  'model.threads': '--threads',
  'seed.seed': '--seed',
  'write.out': '--out',
});

/**
 * The common flags a user gave explicitly, as `--set` assignments: they win over a pipeline file's
 * values, exactly as --set does.
 */
export function commonOverrides(args: CommonArgs): string[] {
  const sets: string[] = [];
  const model = modelConfig(args);
  if (model.source !== undefined) sets.push(`model.source=${JSON.stringify(model.source)}`);
  if (args.architecture !== undefined) sets.push(`model.architecture=${JSON.stringify(args.architecture)}`);
  if (model.backend !== undefined) sets.push(`model.backend=${model.backend}`);
  if (model.device !== undefined) sets.push(`model.device=${model.device}`);
  if (args.threads !== undefined) sets.push(`model.threads=${args.threads}`);
  if (args.seed !== undefined) sets.push(`seed.seed=${args.seed}`);
  if (args.out !== undefined) sets.push(`write.out=${JSON.stringify(args.out)}`);
  return sets;
}

/** Locations point into the file except for values a --set (or a flag) replaced. */
export function locateUnlessOverridden(locate: (p: (string | number)[], o?: { key?: boolean }) => string | undefined, sets: string[]) {
  return (p: (string | number)[], o?: { key?: boolean }) => (p.length > 1 && sets.some((s) => s.startsWith(`${p.slice(0, 2).join('.')}=`)) ? '--set' : locate(p, o));
}

export interface UndersamplingArgs {
  acceleration: number;
  center: number;
  pattern: string;
  axis: string;
}

/** k-space undersampling flags, shared by train and eval. */
export function withUndersamplingOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('acceleration', { type: 'number', default: 4, describe: 'undersampling factor R' })
    .option('center', { type: 'number', default: 0.08, describe: 'fully sampled centre fraction of k-space lines' })
    .option('pattern', { choices: MASK_PATTERNS, default: 'random', describe: 'which outer lines are kept' })
    .option('axis', { choices: MASK_AXES, default: 'x', describe: 'undersampled phase-encoding axis' });
}

export function undersamplingOf(args: UndersamplingArgs) {
  return { acceleration: args.acceleration, center: args.center, pattern: args.pattern as MaskPattern, axis: args.axis as MaskAxis };
}
