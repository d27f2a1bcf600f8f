/**
 * Runs a mode's jobs in this thread or on a pool of worker threads, with one job shape for every mode.
 * A mode's job module (e.g. src/modes/filters/job.ts) exports `createJobRunner(ctx, config)`; in this
 * thread the mode calls it directly, and each worker (src/run/worker.ts) imports the same module and
 * calls it with its own engine. So a job gives the same result wherever it runs.
 */
import { fileURLToPath } from 'node:url';
import type { RunContext, EngineContext } from './context.js';
import { WorkerPool, spawnModuleWorker } from './pool.js';
import type { WorkerData } from './worker.js';

/** Runs one job; reports progress through `progress`. */
export type JobRunner<J, R, P> = (job: J, progress: (p: P) => void) => Promise<R>;

/** What a job module exports. `transferList` names the result's buffers a worker can hand over without a copy. */
export interface JobModule<C, J, R, P> {
  createJobRunner(ctx: EngineContext, config: C): Promise<JobRunner<J, R, P>>;
  transferList?(result: R): ArrayBuffer[];
}

export interface JobsOptions<C, J, R, P> {
  /** The job module's URL (`jobModule(import.meta.url, './job')`) and the module itself, for this thread. */
  module: URL;
  local: JobModule<C, J, R, P>;
  config: C;
  jobs: readonly J[];
  /** Worker threads (1: in this thread, in order). */
  workers: number;
  signal?: AbortSignal;
  onProgress?: (job: J, progress: P) => void;
  /** Called as each job completes, in completion order. */
  onResult?: (job: J, result: R) => Promise<void> | void;
  /** Turns a job that failed (in this thread or on a worker) into a result; without it the failure rejects the run. */
  onError?: (job: J, error: Error) => R;
}

/** The URL of a sibling module, `.ts` when running from the sources (tests, tsx), `.js` when built. */
export function jobModule(importMetaUrl: string, relative: string): URL {
  return new URL(`${relative}${importMetaUrl.endsWith('.ts') ? '.ts' : '.js'}`, importMetaUrl);
}

const WORKER_ENTRY = jobModule(import.meta.url, './worker');

/** Results in job order; a job skipped because the signal aborted leaves undefined in its place. */
export async function runJobs<C, J, R, P>(ctx: RunContext, o: JobsOptions<C, J, R, P>): Promise<(R | undefined)[]> {
  const results: (R | undefined)[] = new Array(o.jobs.length).fill(undefined);
  const size = Math.max(1, Math.min(o.workers, o.jobs.length));
  if (size === 1) {
    const run = await o.local.createJobRunner(ctx, o.config);
    for (const [i, job] of o.jobs.entries()) {
      if (o.signal?.aborted) break;
      // A failure becomes a result here as on a worker, so a run behaves the same at every concurrency.
      results[i] = await run(job, (p) => o.onProgress?.(job, p)).catch((err: Error) => {
        if (!o.onError) throw err;
        return o.onError(job, err);
      });
      await o.onResult?.(job, results[i]!);
    }
    return results;
  }
  const data: WorkerData = { module: fileURLToPath(o.module), model: ctx.workerModel(size), config: o.config };
  const pool = new WorkerPool<J, R, P>(() => spawnModuleWorker(WORKER_ENTRY, data), size, {
    onWorkerDied: (message) => ctx.emit({ type: 'warn', message }),
  });
  try {
    // One lane per worker takes the next job when its last one is done, so after an abort no queued job starts
    // (posting every job to the pool at once would run them all).
    let next = 0;
    const lane = async () => {
      while (next < o.jobs.length && !o.signal?.aborted) {
        const i = next++;
        const job = o.jobs[i]!;
        const r = await pool.run(job, (p) => o.onProgress?.(job, p)).catch((err: Error) => {
          if (!o.onError) throw err;
          return o.onError(job, err);
        });
        results[i] = r;
        await o.onResult?.(job, r);
      }
    };
    await Promise.all(Array.from({ length: size }, lane));
  } finally {
    await pool.close();
  }
  return results;
}
