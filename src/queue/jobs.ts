/**
 * What a queued dream job carries, and its id. The id is a hash of everything that decides the job's
 * outputs (the model's sha256, the resolved config, the input's path relative to the folder and the
 * input's own sha256), so submitting the same folder twice adds nothing, and a changed input or
 * config is new work.
 */
import { createHash } from 'node:crypto';
import type { DreamConfig } from './run-one.js';

export const DEFAULT_QUEUE = 'unet-dream';
/** Attempts for a job that fails for a reason other than its input (engine crash, full disk). */
export const JOB_ATTEMPTS = 3;

export interface DreamJobData {
  /** The run: hash of model and resolved config; names the run's file under SHARED_OUT. */
  run: string;
  /** Position in the single run's input order. */
  index: number;
  input: {
    /** As the manifest records it (as `batch` would). */
    text: string;
    /** Absolute path, for workers on any machine that mounts the same folders at the same place. */
    path: string;
    /** Relative to the submitted folder. */
    relative: string;
    sha256: string;
    /** The output stem planned over the whole folder at submit (names as a local batch gives them). */
    stem?: string;
  };
  /** The resolved config, with absolute `out` and model paths. */
  config: DreamConfig;
  modelSha256: string;
}

/** JSON with keys sorted at every level: the same config always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex');

export function runId(modelSha256: string, config: DreamConfig): string {
  return sha256(modelSha256, canonicalJson(config));
}

/** BullMQ refuses integer-like custom ids, so the hash gets a prefix. */
export function jobId(run: string, relative: string, inputSha256: string): string {
  return `dream-${sha256(run, relative, inputSha256).slice(0, 40)}`;
}
