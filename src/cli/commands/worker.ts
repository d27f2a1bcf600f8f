/** `unet-dream worker --redis URL`: runs queued dream jobs until stopped (SIGTERM/SIGINT: finish the current job, exit 0). */
import type { Argv, CommandModule } from 'yargs';
import { invalidParameterError } from '../../errors.js';
import { startWorker } from '../../queue/worker.js';
import { createReporter } from '../reporter.js';
import { redisTargetOf, withQueueOptions, type QueueArgs } from './queue.js';

interface WorkerArgs extends QueueArgs {
  concurrency: number;
  threads?: number;
  name?: string;
  drain: boolean;
  lockMs: number;
  stalledMs: number;
  verbose: boolean;
}

const positiveInt = (name: string, v: number | undefined) => {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw invalidParameterError(name, 'an integer >= 1', v);
};

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'run queued dream jobs (start one or more on every machine that sees the inputs and SHARED_OUT)',
  builder: (yargs: Argv) =>
    withQueueOptions(yargs)
      .option('concurrency', { type: 'number', default: 1, describe: 'jobs at once in this process, each with its own engine' })
      .option('threads', { type: 'number', describe: 'ONNX Runtime threads per engine (default: the cores shared among concurrent jobs)' })
      .option('name', { type: 'string', describe: 'worker name shown by `queue status` (default HOST-PID)' })
      .option('drain', { type: 'boolean', default: false, describe: 'exit 0 once the queue has no waiting, delayed or active jobs' })
      .option('lock-ms', { type: 'number', default: 30_000, describe: "a running job's lock; a dead worker's job is taken over after it expires" })
      .option('stalled-ms', { type: 'number', default: 30_000, describe: 'how often to look for jobs of dead workers' })
      .option('verbose', { type: 'boolean', default: false, describe: 'log every job; show stacks on errors' }) as unknown as Argv<WorkerArgs>,
  handler: async (args) => {
    positiveInt('--concurrency', args.concurrency);
    positiveInt('--threads', args.threads);
    positiveInt('--lock-ms', args.lockMs);
    positiveInt('--stalled-ms', args.stalledMs);
    const reporter = createReporter({ json: false, verbose: true });
    const worker = await startWorker({
      redis: redisTargetOf(args),
      queue: args.queue,
      concurrency: args.concurrency,
      threads: args.threads,
      name: args.name,
      drain: args.drain,
      lockMs: args.lockMs,
      stalledMs: args.stalledMs,
      onEvent: (e) => reporter.onEvent(e),
    });
    // SIGTERM (a scheduler ending the job, `kill`) or Ctrl-C: finish the jobs in flight, then exit 0.
    // A second signal stops at once; the unfinished job is recovered by another worker.
    const stop = (signal: string) => {
      reporter.onEvent({ type: 'warn', message: `${signal}: worker ${worker.name} finishes its current job, then exits (${signal} again to stop at once)` });
      process.once('SIGTERM', () => process.exit(143));
      process.once('SIGINT', () => process.exit(130));
      void worker.close();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    await worker.closed;
    reporter.onEvent({ type: 'info', message: `worker ${worker.name} stopped` });
    reporter.stop();
  },
};
