/**
 * What a queue run keeps under SHARED_OUT, next to the outputs (hidden, so the folder lists like a
 * local batch's):
 *
 *   .unet-dream-queue/run.json            the run: config, model, input order, one job id per input
 *   .unet-dream-queue/records/JOB.json    one small file per finished job: its record, exactly as batch writes it
 *   manifest.json                         assembled from the two above: at most every 5 s per worker while
 *                                         jobs run, and as soon as every input has its record
 *
 * Every file is written atomically. Manifest rewrites are serialised across machines by a lock in
 * Redis, and each rewrite reads every record after taking the lock, so a later manifest never holds
 * fewer results than an earlier one.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { UsageError } from '../errors.js';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import { writeManifest, type Manifest } from '../run/manifest.js';
import type { DreamConfig, DreamRecord, EngineInfo } from './run-one.js';

export const QUEUE_DIR = '.unet-dream-queue';

export interface RunFile {
  run: string;
  command: string;
  /** The config as a local batch records it (paths as the user gave them). */
  config: DreamConfig;
  model: Manifest['model'];
  versions: Record<string, string>;
  seed: number;
  startedAt: string;
  /** The inputs in the single run's order, each with its job. */
  order: { input: string; job: string }[];
}

export interface JobRecordFile {
  run: string;
  job: string;
  index: number;
  record: DreamRecord;
  engine: EngineInfo;
  worker: string;
}

export interface QueueManifest extends Manifest {
  config: DreamConfig;
  results: DreamRecord[];
  queue: { run: string; inputs: number; recorded: number };
}

const runFile = (out: string) => path.join(out, QUEUE_DIR, 'run.json');
const recordFile = (out: string, job: string) => path.join(out, QUEUE_DIR, 'records', `${job}.json`);

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export const readRunFile = (out: string) => readJson<RunFile>(runFile(out));
export const readJobRecord = (out: string, job: string) => readJson<JobRecordFile>(recordFile(out, job));

/** Writes run.json; a folder that holds another run (other model or config) is refused. */
export async function writeRunFile(out: string, run: RunFile): Promise<RunFile> {
  await ensureWritableDir(path.join(out, QUEUE_DIR, 'records'));
  const existing = await readRunFile(out);
  if (existing && existing.run !== run.run) {
    throw new UsageError(`${out} already holds a queue run of another model or pipeline (run ${existing.run.slice(0, 12)}); give a new --out`);
  }
  const kept = existing ? { ...run, startedAt: existing.startedAt } : run;
  await writeFileAtomic(runFile(out), `${JSON.stringify(kept, null, 2)}\n`);
  return kept;
}

export async function writeJobRecord(out: string, rec: JobRecordFile): Promise<void> {
  await writeFileAtomic(recordFile(out, rec.job), `${JSON.stringify(rec)}\n`);
}

/** A finished job's record whose outputs all exist: the job need not run again. */
export async function completedRecord(out: string, job: string): Promise<JobRecordFile | undefined> {
  const rec = await readJobRecord(out, job).catch(() => undefined);
  if (!rec || rec.record.error) return undefined;
  const present = await Promise.all((rec.record.outputs ?? []).map((f) => fs.stat(path.join(out, f)).then(() => true, () => false)));
  return present.every(Boolean) ? rec : undefined;
}

/** Rebuild the manifest at most this often per worker until the run is complete (then at once). */
export const ASSEMBLE_EVERY_MS = 5000;

const inputsKey = (run: string) => `unet-dream:inputs:${run}`;
const recordedKey = (run: string) => `unet-dream:recorded:${run}`;

/** Set by submit: how many inputs the run has. */
export async function setInputsOfRun(redis: Redis, run: string, inputs: number): Promise<void> {
  await redis.set(inputsKey(run), String(inputs));
}

export async function inputsOfRun(redis: Redis, run: string): Promise<number> {
  return Number((await redis.get(inputsKey(run))) ?? Infinity);
}

/** Marks a job recorded (its record file is written) and returns how many distinct jobs are. */
export async function countRecorded(redis: Redis, run: string, job: string): Promise<number> {
  await redis.sadd(recordedKey(run), job);
  return redis.scard(recordedKey(run));
}

async function withLock<T>(redis: Redis, key: string, fn: () => Promise<T>): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + 60_000;
  while ((await redis.set(key, token, 'PX', 30_000, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new Error(`waited 60 s for the manifest lock ${key}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    return await fn();
  } finally {
    // Release only our own lock (it may have expired and been taken by another worker).
    await redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token);
  }
}

/** Rebuilds OUT/manifest.json from run.json and every record written so far; returns it. */
export async function assembleManifest(out: string, redis: Redis, fallbackEngine: EngineInfo): Promise<QueueManifest | undefined> {
  const run = await readRunFile(out);
  if (!run) return undefined;
  return withLock(redis, `unet-dream:manifest-lock:${run.run}`, async () => {
    const records = await Promise.all(run.order.map((o) => readJobRecord(out, o.job).catch(() => undefined)));
    const done = records.filter((r): r is JobRecordFile => r !== undefined && r.run === run.run);
    const manifest: QueueManifest = {
      command: run.command,
      config: run.config,
      model: run.model,
      engine: done[0]?.engine ?? fallbackEngine,
      versions: run.versions,
      seed: run.seed,
      startedAt: run.startedAt,
      wallTimeMs: Date.now() - Date.parse(run.startedAt),
      results: done.map((r) => r.record),
      queue: { run: run.run, inputs: run.order.length, recorded: done.length },
    };
    await writeManifest(out, manifest);
    if (done.length === run.order.length) await removeStaleTemporaries(out, done);
    return manifest;
  });
}

/**
 * Once every job is recorded, temporaries left by a writer killed mid-write (`.NAME.PID.N.tmp`, see
 * io/atomic.ts) next to a recorded output are removed: nothing is writing them any more.
 */
async function removeStaleTemporaries(out: string, done: JobRecordFile[]): Promise<void> {
  const outputs = new Set(done.flatMap((r) => r.record.outputs ?? []).map((f) => path.basename(f)));
  const names = await fs.readdir(out).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^\.(.+)\.\d+\.\d+\.tmp$/.exec(name);
    if (m && outputs.has(m[1]!)) await fs.rm(path.join(out, name), { force: true });
  }
}
