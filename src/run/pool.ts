/**
 * A pool of worker threads, one engine each, for CPU parallelism (wasm runs one thread per engine).
 * Jobs are bounded by p-limit to one in flight per worker; a worker that dies is reported, replaced,
 * and its job retried once, so work is never silently lost.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pLimit from 'p-limit';

const require = createRequire(import.meta.url);

/** Messages a worker posts while it runs a job. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; id: number; data: unknown }
  | { type: 'result'; id: number; data: unknown }
  | { type: 'error'; id?: number; message: string; exitCode?: number };

export class WorkerJobError extends Error {
  constructor(
    message: string,
    /** The failed job's own exit code when its error carried one (a typed error); else undefined. */
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'WorkerJobError';
  }
}

/**
 * Starts `entry` (a module path without extension, relative to src/ or dist/) in a worker. From the
 * built package it is plain JS; from the TypeScript sources (tests, tsx) the worker first registers
 * tsx so it can import .ts files.
 */
export function spawnModuleWorker(entryUrl: URL, workerData: unknown): Worker {
  const file = fileURLToPath(entryUrl);
  const ts = file.endsWith('.ts');
  if (!ts) return new Worker(file, { workerData });
  const tsxApi = pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs')).href;
  const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entryUrl.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
}

export interface PoolEvents {
  onWorkerDied?: (message: string) => void;
}

export class WorkerPool<TJob, TResult, TProgress = unknown> {
  private readonly slots: Slot[] = [];
  private readonly limit: ReturnType<typeof pLimit>;
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly spawn: () => Worker,
    readonly size: number,
    private readonly events: PoolEvents = {},
  ) {
    this.limit = pLimit(size);
    for (let i = 0; i < size; i++) this.slots.push(this.start());
  }

  private start(): Slot {
    const worker = this.spawn();
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.type === 'ready') {
          worker.off('message', onMessage);
          resolve();
        } else if (m.type === 'error' && m.id === undefined) {
          reject(new WorkerJobError(m.message, m.exitCode));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new WorkerJobError(`worker exited with code ${code} before it was ready`)));
    });
    ready.catch(() => undefined);
    return { worker, ready, busy: false };
  }

  /** Runs one job on a free worker; retries once on a fresh worker if the worker dies. */
  run(job: TJob, onProgress?: (p: TProgress) => void): Promise<TResult> {
    return this.limit(async () => {
      try {
        return await this.runOnce(job, onProgress);
      } catch (err) {
        if (!(err instanceof WorkerDied) || this.closed) throw err;
        this.events.onWorkerDied?.(`${err.message}; retrying its job once`);
        try {
          return await this.runOnce(job, onProgress);
        } catch (again) {
          if (again instanceof WorkerDied) throw new WorkerJobError(`${again.message} again on retry; job abandoned`);
          throw again;
        }
      }
    });
  }

  private async runOnce(job: TJob, onProgress?: (p: TProgress) => void): Promise<TResult> {
    const index = this.slots.findIndex((s) => !s.busy);
    const slot = this.slots[index]!;
    slot.busy = true;
    try {
      try {
        await slot.ready;
      } catch (err) {
        // A worker that failed to start is a startup error (bad model, backend), not a crash to retry.
        throw err instanceof WorkerJobError ? err : new WorkerJobError((err as Error).message);
      }
      const id = this.nextId++;
      return await new Promise<TResult>((resolve, reject) => {
        const { worker } = slot;
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('exit', onExit);
          worker.off('error', onError);
        };
        const onMessage = (m: WorkerMessage) => {
          if (!('id' in m) || m.id !== id) return;
          if (m.type === 'progress') onProgress?.(m.data as TProgress);
          else if (m.type === 'result') {
            cleanup();
            resolve(m.data as TResult);
          } else if (m.type === 'error') {
            cleanup();
            reject(new WorkerJobError(m.message, m.exitCode));
          }
        };
        let lastError: Error | undefined;
        const onError = (err: Error) => {
          lastError = err;
        };
        const onExit = (code: number) => {
          cleanup();
          reject(new WorkerDied(`worker ${index} died (exit code ${code}${lastError ? `: ${lastError.message}` : ''})`));
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        worker.postMessage({ type: 'job', id, job });
      });
    } catch (err) {
      if (err instanceof WorkerDied) this.slots[index] = this.start();
      throw err;
    } finally {
      this.slots[index]!.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

class WorkerDied extends Error {}
