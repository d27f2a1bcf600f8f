/** Worker-thread entry for batch dreams: one engine per worker, one input per job. */
import { parentPort, workerData } from 'node:worker_threads';
import type { InputSpec } from '../io/input-spec.js';
import { createDreamContext, dreamOne, type DreamConfig } from './dream-run.js';

const { config } = workerData as { config: DreamConfig };
const port = parentPort!;

try {
  const ctx = await createDreamContext(config);
  port.on('message', async (message: { type: 'job'; id: number; job: InputSpec }) => {
    if (message.type !== 'job') return;
    try {
      const record = await dreamOne(ctx, message.job, config, (p) => port.postMessage({ type: 'progress', id: message.id, data: p }));
      port.postMessage({ type: 'result', id: message.id, data: record });
    } catch (err) {
      port.postMessage({ type: 'error', id: message.id, message: (err as Error).message });
    }
  });
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message, exitCode: (err as { exitCode?: number }).exitCode });
}
