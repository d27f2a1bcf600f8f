/**
 * `unet-dream worker`: takes dream jobs from the queue and runs them, on any machine that sees the
 * submitted folder and SHARED_OUT at the same paths. Delivery is at least once (BullMQ: a job whose
 * worker dies is recovered by another after its lock expires), so each job is idempotent: outputs are
 * written atomically under names derived from the input alone, a job whose record and outputs exist
 * is not redone, and the manifest is rebuilt from the records. An input that cannot be read fails its
 * job at once (UnrecoverableError: no retries); other errors get JOB_ATTEMPTS attempts with backoff.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { EventSink } from '../events.js';
import { DEFAULT_QUEUE, type DreamJobData } from './jobs.js';
import { ASSEMBLE_EVERY_MS, assembleManifest, completedRecord, countRecorded, inputsOfRun, writeJobRecord } from './records.js';
import { bullConnection, checkRedis, openClient, redact, type RedisTarget } from './redis.js';
import { engineKey, openDreamer, type DreamConfig, type DreamRecord, type Dreamer, type EngineInfo } from './run-one.js';

export interface QueueWorkerOptions {
  redis: RedisTarget;
  queue?: string;
  /** Jobs at once in this process, each on its own engine (default 1). */
  concurrency?: number;
  /** ONNX Runtime threads per engine (default: the config's, else the cores shared among concurrent jobs). */
  threads?: number;
  /** Shown in `queue status` and stored on each job (default HOST-PID). */
  name?: string;
  /** BullMQ lock on a running job, renewed while it runs; a dead worker's job is recovered after it expires (default 30 s). */
  lockMs?: number;
  /** How often this worker looks for stalled jobs of dead workers (default 30 s). */
  stalledMs?: number;
  /** Stop once the queue has no waiting, delayed or active jobs. */
  drain?: boolean;
  onEvent?: EventSink;
}

export interface RunningWorker {
  name: string;
  /** Resolves when the worker has stopped (after close(), or drained with `drain`). */
  closed: Promise<void>;
  /** Finishes the jobs in flight, then stops. */
  close(): Promise<void>;
}

/** Engines kept per config, one per job in flight: loading a model is paid once per engine, not per job. */
class DreamerPool {
  private free = new Map<string, Dreamer[]>();
  private all: Dreamer[] = [];
  constructor(private threads: number | undefined) {}

  async acquire(config: DreamConfig): Promise<{ dreamer: Dreamer; release: () => void }> {
    const key = engineKey(config);
    const list = this.free.get(key) ?? [];
    this.free.set(key, list);
    const dreamer = list.pop() ?? (await this.open(config));
    return { dreamer, release: () => list.push(dreamer) };
  }

  private async open(config: DreamConfig): Promise<Dreamer> {
    const d = await openDreamer(this.threads === undefined ? config : { ...config, model: { ...config.model, threads: this.threads } });
    this.all.push(d);
    return d;
  }

  dispose(): void {
    for (const d of this.all) d.dispose();
    this.all = [];
    this.free.clear();
  }
}

const sha256File = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

export async function startWorker(options: QueueWorkerOptions): Promise<RunningWorker> {
  const emit = options.onEvent ?? (() => undefined);
  const { redis } = options;
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const concurrency = options.concurrency ?? 1;
  const name = options.name ?? `${os.hostname()}-${process.pid}`;
  await checkRedis(redis, 'reach the queue');
  const threads = options.threads ?? (concurrency > 1 ? Math.max(1, Math.floor(os.availableParallelism() / concurrency)) : undefined);
  const pool = new DreamerPool(threads);
  const client = openClient(redis);
  let lastEngine: EngineInfo = { engine: 'unknown', backend: 'unknown', provider: 'unknown' };

  // The manifest is rebuilt (reading every record) when the run is complete, else at most every
  // ASSEMBLE_EVERY_MS per worker: rebuilding after every job would read N records N times.
  let lastAssembly = 0;
  const assemble = async (data: DreamJobData, jobKey: string, engine: EngineInfo) => {
    const complete = (await countRecorded(client, data.run, jobKey)) >= (await inputsOfRun(client, data.run));
    if (!complete && Date.now() - lastAssembly < ASSEMBLE_EVERY_MS) return;
    lastAssembly = Date.now();
    await assembleManifest(data.config.write.out, client, engine);
  };
  const record = async (job: Job<DreamJobData>, rec: DreamRecord, engine: EngineInfo) => {
    const { data } = job;
    await writeJobRecord(data.config.write.out, { run: data.run, job: job.id!, index: data.index, record: rec, engine, worker: name });
    await assemble(data, job.id!, engine);
  };

  const processJob = async (job: Job<DreamJobData>) => {
    const { data } = job;
    const { text, path: file } = data.input;
    const out = data.config.write.out;
    const done = await completedRecord(out, job.id!);
    if (done) {
      // Delivered again after it finished (a recovered job, a resubmission): nothing to redo.
      await assemble(data, job.id!, done.engine);
      return { outputs: done.record.outputs ?? [], skipped: true };
    }
    const started = performance.now();
    let sha: string;
    try {
      sha = await sha256File(file);
    } catch (err) {
      throw new Error(`${text}: not readable on worker ${name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); does this machine see the submitted folder at the same path?`);
    }
    if (sha !== data.input.sha256) {
      const reason = `${text}: changed since it was submitted (sha256 differs); submit the folder again`;
      await record(job, { input: text, error: reason }, lastEngine);
      throw new UnrecoverableError(reason);
    }
    let rec: DreamRecord;
    let engine: EngineInfo;
    try {
      const { dreamer, release } = await pool.acquire(data.config);
      try {
        if (dreamer.modelSha256 !== data.modelSha256) {
          throw new Error(`the model ${data.config.model.source} on worker ${name} has sha256 ${dreamer.modelSha256.slice(0, 12)}, the job was submitted with ${data.modelSha256.slice(0, 12)}`);
        }
        engine = lastEngine = dreamer.engine;
        let lastProgress = 0;
        rec = await dreamer.dream({ text, path: file, stem: data.input.stem }, data.config, (p) => {
          const now = Date.now();
          if (now - lastProgress < 1000) return;
          lastProgress = now;
          job.updateProgress({ octave: p.octave, octaves: p.octaves, step: p.step, steps: p.steps, slice: p.slice, slices: p.slices }).catch(() => undefined);
        });
      } finally {
        release();
      }
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      // Not the input's fault: retried with backoff; the last attempt leaves its reason in the manifest.
      const message = `${text}: ${redact((err as Error).message, redis).split('\n')[0]}`;
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await record(job, { input: text, error: message }, lastEngine);
      throw new Error(message);
    }
    await record(job, rec, engine);
    if (rec.error) throw new UnrecoverableError(rec.error);
    emit({ type: 'info', message: `${name}: ${text} -> ${(rec.outputs ?? []).join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s` });
    return { outputs: rec.outputs ?? [] };
  };

  const worker = new Worker<DreamJobData>(queueName, processJob, {
    connection: bullConnection(redis),
    concurrency,
    name,
    lockDuration: options.lockMs ?? 30_000,
    stalledInterval: options.stalledMs ?? 30_000,
    // Recovered after two worker deaths; the third fails it rather than circulating for ever.
    maxStalledCount: 2,
  });
  worker.on('failed', (job, err) => emit({ type: 'warn', message: `${job ? `job ${job.id} ` : ''}failed${job && job.attemptsMade < (job.opts.attempts ?? 1) && !(err instanceof UnrecoverableError) ? ' (will retry)' : ''}: ${redact(err.message, redis).split('\n')[0]}` }));
  worker.on('error', (err) => emit({ type: 'warn', message: `queue connection: ${redact(err.message, redis).split('\n')[0]}` }));
  worker.on('stalled', (id) => emit({ type: 'info', message: `job ${id} stalled (its worker died) and is queued again` }));
  emit({ type: 'info', message: `worker ${name} on queue ${queueName} at ${redis.display}, ${concurrency} job${concurrency === 1 ? '' : 's'} at once` });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let drainTimer: NodeJS.Timeout | undefined;
  const counts = options.drain ? new Queue(queueName, { connection: bullConnection(redis) }) : undefined;
  counts?.on('error', () => undefined);
  const close = () =>
    (closing ??= (async () => {
      if (drainTimer) clearInterval(drainTimer);
      await worker.close();
      pool.dispose();
      await counts?.close();
      client.disconnect();
      resolveClosed();
    })());
  if (counts) {
    let checking = false;
    drainTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      counts
        .getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children')
        .then((c) => {
          if (Object.values(c).every((n) => n === 0)) {
            emit({ type: 'info', message: `worker ${name}: queue ${queueName} is empty, stopping` });
            void close();
          }
        })
        .catch(() => undefined)
        .finally(() => (checking = false));
    }, 500);
  }
  return { name, closed, close };
}
