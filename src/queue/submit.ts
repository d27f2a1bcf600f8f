/**
 * `queue submit`: one job per input of a dream config, ids derived from what decides the outputs, so
 * a resubmission adds only new or changed inputs. Writes SHARED_OUT/.unet-dream-queue/run.json first,
 * so any worker can assemble the manifest.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Queue, type JobsOptions } from 'bullmq';
import { UsageError } from '../errors.js';
import { loadModel } from '../model/load.js';
import type { EventSink } from '../events.js';
import { packageVersions } from '../run/manifest.js';
import { JOB_ATTEMPTS, jobId, runId, type DreamJobData } from './jobs.js';
import { completedRecord, setInputsOfRun, writeRunFile, type RunFile } from './records.js';
import { bullConnection, checkRedis, openClient, redactError, type RedisTarget } from './redis.js';
import { checkAgainstModel, inputOrder, type DreamConfig } from './run-one.js';

export interface SubmitOptions {
  /** The folder as the user named it (what a local batch records as its input). */
  dir: string;
  /** The validated dream config, paths as the user gave them. */
  config: DreamConfig;
  redis: RedisTarget;
  queue: string;
  command: string;
  onEvent?: EventSink;
}

export interface SubmitResult {
  run: string;
  inputs: number;
  added: number;
  /** Jobs already in the queue under the same id (waiting, active, completed or failed). */
  queued: number;
  /** Inputs whose record and outputs are already in SHARED_OUT. */
  done: number;
}

/** Paths made absolute, so a worker started in any folder (or on any machine mounting the same paths) finds them. */
function resolvedConfig(config: DreamConfig): DreamConfig {
  const model = { ...config.model, source: config.model.source === 'builtin' ? 'builtin' : path.resolve(config.model.source), ...(config.model.architecture ? { architecture: path.resolve(config.model.architecture) } : {}) };
  return { ...config, model, seed: { ...config.seed, inputs: config.seed.inputs.map((i) => path.resolve(i)) }, write: { ...config.write, out: path.resolve(config.write.out) } };
}

async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

export async function submitFolder(options: SubmitOptions): Promise<SubmitResult> {
  const emit = options.onEvent ?? (() => undefined);
  const { config, redis } = options;
  const order = await inputOrder(config);
  const missing = order.filter((o) => o.error);
  if (missing.length > 0) throw new UsageError(missing[0]!.error!);
  if (order.length === 0) throw new UsageError(`${options.dir}: no input files found${config.seed.include ? ` matching ${config.seed.include}` : ''}`);
  await checkRedis(redis, 'reach the queue');

  const loaded = await loadModel(config.model.source, { architecture: config.model.architecture });
  checkAgainstModel(loaded, config);
  const resolved = resolvedConfig(config);
  const run = runId(loaded.sha256, resolved);
  const root = path.resolve(options.dir);
  const jobs: { name: string; data: DreamJobData; opts: { jobId: string } }[] = [];
  for (const [index, input] of order.entries()) {
    const abs = path.resolve(input.text);
    const relative = path.relative(root, abs).split(path.sep).join('/');
    const sha = await sha256File(abs);
    const id = jobId(run, relative, sha);
    jobs.push({ name: 'dream', data: { run, index, input: { text: input.text, path: abs, relative, sha256: sha, stem: input.stem }, config: resolved, modelSha256: loaded.sha256 }, opts: { jobId: id } });
  }
  const runFile: RunFile = {
    run,
    command: options.command,
    config,
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    versions: packageVersions(),
    seed: config.seed.seed,
    startedAt: new Date().toISOString(),
    order: jobs.map((j) => ({ input: j.data.input.text, job: j.opts.jobId })),
  };
  await writeRunFile(resolved.write.out, runFile);

  const queue = new Queue<DreamJobData>(options.queue, { connection: bullConnection(redis) });
  queue.on('error', () => undefined); // surfaced through the rejected calls below
  const client = openClient(redis);
  try {
    await setInputsOfRun(client, run, jobs.length);
    const fresh: typeof jobs = [];
    let queued = 0;
    let done = 0;
    for (const job of jobs) {
      if ((await queue.getJobState(job.opts.jobId)) !== 'unknown') queued++;
      else if (await completedRecord(resolved.write.out, job.opts.jobId)) done++;
      else fresh.push(job);
    }
    // An input's own fault (unreadable, corrupt) is not retried: the worker fails it as unrecoverable.
    const opts: JobsOptions = { attempts: JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: false, removeOnFail: false };
    for (let i = 0; i < fresh.length; i += 500) {
      await queue.addBulk(fresh.slice(i, i + 500).map((j) => ({ name: j.name, data: j.data, opts: { ...opts, ...j.opts } })));
    }
    emit({ type: 'info', message: `run ${run.slice(0, 12)}: ${fresh.length} added, ${queued} already queued, ${done} already done` });
    return { run, inputs: jobs.length, added: fresh.length, queued, done };
  } catch (err) {
    throw redactError(err, redis, 'cannot submit');
  } finally {
    await queue.close();
    client.disconnect();
  }
}
