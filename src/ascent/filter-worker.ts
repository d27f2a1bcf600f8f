/**
 * Worker-thread entry for filter visualization: loads the model, builds its own engine, then runs
 * filter jobs posted by the pool (engine/pool.ts) and posts results back with their pixels transferred.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createEngine } from '../engine/select.js';
import { loadModel } from '../model/load.js';
import type { BackendChoice } from '../engine/backend.js';
import { modelChannels, runFilterJob, type FilterJob, type JobOptions } from './visualize.js';
import { parseInit, prepareInit, type AliasingOptions } from './init.js';

export interface FilterWorkerData {
  model: string;
  architecture?: string;
  backend: BackendChoice;
  threads?: number;
  device?: 'cpu' | 'cuda';
  options: Omit<JobOptions, 'init'> & { init: string; aliasing: AliasingOptions };
  /** Fault injection for tests: the first worker to take a job exits, once (marker file records it). */
  dieOnceMarker?: string;
}

const data = workerData as FilterWorkerData;
const port = parentPort!;

try {
  const loaded = await loadModel(data.model, { architecture: data.architecture });
  const { engine } = await createEngine(loaded.model, data.backend, { threads: data.threads, device: data.device });
  const channels = modelChannels(loaded.model);
  const { aliasing, ...jobOptions } = data.options;
  const options: JobOptions = { ...jobOptions, init: await prepareInit(parseInit(data.options.init), aliasing) };
  port.on('message', async (message: { type: 'job'; id: number; job: FilterJob }) => {
    if (message.type !== 'job') return;
    if (data.dieOnceMarker && !existsSync(data.dieOnceMarker)) {
      writeFileSync(data.dieOnceMarker, 'died');
      process.exit(3);
    }
    try {
      const results = await runFilterJob(engine, channels, options, message.job, (step) => port.postMessage({ type: 'progress', id: message.id, data: step }));
      port.postMessage({ type: 'result', id: message.id, data: results }, results.map((r) => r.image.buffer as ArrayBuffer));
    } catch (err) {
      port.postMessage({ type: 'error', id: message.id, message: (err as Error).message, exitCode: (err as { exitCode?: number }).exitCode });
    }
  });
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message, exitCode: (err as { exitCode?: number }).exitCode });
}
