/** Filter visualization spread over worker threads, one engine per worker. */
import { WorkerPool, spawnModuleWorker } from '../engine/pool.js';
import type { LayersModel } from '../engine/tf.js';
import type { BackendChoice } from '../engine/backend.js';
import { planVisualization, splitJobs, type FilterJob, type FilterResult, type VisualizeOptions, type VisualizeProgress } from './visualize.js';
import type { FilterWorkerData } from './filter-worker.js';
import type { AliasingOptions } from './init.js';
import { sizeDivisor } from '../model/resize.js';

export interface ParallelOptions {
  /** The --init text and aliasing settings: each worker prepares its own init source from them. */
  init: string;
  aliasing: AliasingOptions;
  workers: number;
  model: string;
  architecture?: string;
  backend: BackendChoice;
  /** Engine threads per worker (ONNX Runtime). */
  threads?: number;
  device?: 'cpu' | 'cuda';
  dieOnceMarker?: string;
  onWorkerDied?: (message: string) => void;
}

export async function visualizeFiltersParallel(
  model: LayersModel,
  options: VisualizeOptions,
  parallel: ParallelOptions,
  onProgress?: (p: VisualizeProgress) => void,
): Promise<FilterResult[]> {
  const jobs = splitJobs(planVisualization(model, options), options.batch);
  const total = jobs.reduce((s, j) => s + j.filters.length, 0);
  const { layers: _l, filters: _f, batch: _b, init: _i, ...rest } = options;
  const workerData: FilterWorkerData = {
    model: parallel.model,
    architecture: parallel.architecture,
    backend: parallel.backend,
    threads: parallel.threads,
    device: parallel.device,
    options: { ...rest, divisor: rest.divisor ?? sizeDivisor(model), init: parallel.init, aliasing: parallel.aliasing },
    dieOnceMarker: parallel.dieOnceMarker,
  };
  const entry = new URL(`./filter-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  const pool = new WorkerPool<FilterJob, FilterResult[], number>(() => spawnModuleWorker(entry, workerData), Math.min(parallel.workers, jobs.length), {
    onWorkerDied: parallel.onWorkerDied,
  });
  let done = 0;
  try {
    const perJob = await Promise.all(
      jobs.map((job) =>
        pool.run(job, (step) => onProgress?.({ layer: job.layer, filters: job.filters, step, steps: options.steps, done, total })).then((r) => {
          done += r.length;
          onProgress?.({ layer: job.layer, filters: job.filters, step: options.steps, steps: options.steps, done, total });
          return r;
        }),
      ),
    );
    // Results come back in job order whatever the worker that ran them.
    return perJob.flat();
  } finally {
    await pool.close();
  }
}
