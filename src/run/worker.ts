/**
 * The one worker-thread entry, for every mode: opens its own engine, imports the mode's job module
 * (see run/jobs.ts), then runs the jobs the pool posts and posts results back.
 *
 * Fault injection for tests: when UNET_DREAM_TEST_WORKER_EXIT_ONCE names a file that does not exist
 * yet, the first worker to take a job creates it and exits with code 3, so tests can watch the pool
 * replace a dead worker and retry its job. Nothing else reads the variable.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { openEngine } from './context.js';
import type { JobModule } from './jobs.js';
import type { ModelStage } from './stages.js';

export interface WorkerData {
  /** Path of the mode's job module. */
  module: string;
  model: ModelStage;
  config: unknown;
}

const data = workerData as WorkerData;
const port = parentPort!;
const exitOnceMarker = process.env.UNET_DREAM_TEST_WORKER_EXIT_ONCE;

const describe = (err: unknown) => ({ message: err instanceof Error ? err.message : String(err), exitCode: (err as { exitCode?: number }).exitCode });

try {
  const ctx = await openEngine(data.model);
  const mod = (await import(pathToFileURL(data.module).href)) as JobModule<unknown, unknown, unknown, unknown>;
  const run = await mod.createJobRunner(ctx, data.config);
  port.on('message', async (message: { type: 'job'; id: number; job: unknown }) => {
    if (message.type !== 'job') return;
    if (exitOnceMarker && !existsSync(exitOnceMarker)) {
      writeFileSync(exitOnceMarker, 'exited');
      process.exit(3);
    }
    try {
      const result = await run(message.job, (p) => port.postMessage({ type: 'progress', id: message.id, data: p }));
      port.postMessage({ type: 'result', id: message.id, data: result }, mod.transferList?.(result) ?? []);
    } catch (err) {
      port.postMessage({ type: 'error', id: message.id, ...describe(err) });
    }
  });
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'error', ...describe(err) });
}
