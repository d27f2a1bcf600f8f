/** `queue status`: job counts, connected workers, and each failed job with its one-line reason. */
import { Queue } from 'bullmq';
import { DEFAULT_QUEUE, type DreamJobData } from './jobs.js';
import { bullConnection, checkRedis, redact, redactError, type RedisTarget } from './redis.js';

export interface QueueStatus {
  queue: string;
  redis: string;
  counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  workers: number;
  failures: { job: string; input: string; reason: string; attempts: number }[];
  /** Jobs running now: which input, on which worker. */
  active: { job: string; input: string; worker?: string }[];
}

export async function queueStatus(redis: RedisTarget, queueName = DEFAULT_QUEUE, maxFailures = 50): Promise<QueueStatus> {
  await checkRedis(redis, 'reach the queue');
  const queue = new Queue<DreamJobData>(queueName, { connection: bullConnection(redis) });
  queue.on('error', () => undefined);
  try {
    const c = await queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    const failed = await queue.getFailed(0, maxFailures - 1);
    const active = await queue.getActive();
    const workers = await queue.getWorkers();
    return {
      queue: queueName,
      redis: redis.display,
      counts: { waiting: (c.wait ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 },
      workers: workers.length,
      failures: failed.map((j) => ({ job: j.id!, input: j.data.input?.text ?? j.name, reason: redact(j.failedReason ?? 'unknown', redis).split('\n')[0]!, attempts: j.attemptsMade })),
      active: active.map((j) => ({ job: j.id!, input: j.data.input?.text ?? j.name, ...(j.processedBy ? { worker: j.processedBy } : {}) })),
    };
  } catch (err) {
    throw redactError(err, redis, 'cannot read the queue');
  } finally {
    await queue.close();
  }
}
