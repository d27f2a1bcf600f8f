/** Option builders shared by every command (DESIGN §1), so flags mean the same everywhere. */
import type { Argv } from 'yargs';
import { BACKEND_CHOICES, type BackendChoice } from '../engine/backend.js';

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

export function withCommonOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('model', { type: 'string', default: 'builtin', describe: 'builtin, a Keras .h5, or a TensorFlow.js model.json (or its directory)' })
    .option('architecture', { type: 'string', describe: 'model JSON for a weights-only Keras .h5 file' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: 'engine backend; auto picks the fastest that loads' })
    .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'ONNX Runtime execution provider (cuda needs its CUDA 12 binaries: see README)' })
    .option('threads', { type: 'number', describe: 'ONNX Runtime threads per engine (default: cores shared among workers)' })
    .option('seed', { type: 'number', describe: 'random seed: the same seed gives the same output' })
    .option('out', { type: 'string', describe: 'output folder' })
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
