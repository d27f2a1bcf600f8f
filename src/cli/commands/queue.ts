/** `unet-dream queue submit DIR ...` and `unet-dream queue status`: the job-queue side of cluster runs. */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { applyOverrides, readPipelineFile } from '../../pipeline/file.js';
import { DEFAULT_MODE } from '../../modes/index.js';
import { validatePipeline } from '../../pipeline/validate.js';
import { DEFAULT_QUEUE } from '../../queue/jobs.js';
import { parseRedisUrl, type RedisTarget } from '../../queue/redis.js';
import { queueStatus } from '../../queue/status.js';
import { dreamConfigOf } from '../../queue/run-one.js';
import { submitFolder } from '../../queue/submit.js';
import { commonOverrides, locateUnlessOverridden, withCommonOptions, type CommonArgs } from '../options.js';
import { createReporter } from '../reporter.js';

export const REDIS_ENV = 'UNET_DREAM_REDIS_URL';

export interface QueueArgs {
  redis?: string;
  queue: string;
}

/** --redis and --queue, shared by `queue` and `worker`. */
export function withQueueOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('redis', { type: 'string', describe: `Redis URL, redis://[:PASSWORD@]HOST[:PORT][/DB] (default: $${REDIS_ENV}, which keeps a password off the command line)` })
    .option('queue', { type: 'string', default: DEFAULT_QUEUE, describe: 'queue name: runs on separate queues do not mix' });
}

export function redisTargetOf(args: QueueArgs): RedisTarget {
  const url = args.redis ?? process.env[REDIS_ENV];
  if (!url) throw new UsageError(`name the Redis server: --redis redis://HOST:PORT or $${REDIS_ENV}`);
  return parseRedisUrl(url);
}

interface SubmitArgs extends CommonArgs, QueueArgs {
  dir: string;
  pipeline: string;
  set?: string[];
}

const submitCommand: CommandModule<object, SubmitArgs> = {
  command: 'submit <dir>',
  describe: 'enqueue one dream job per input of a folder; workers write into --out (a folder every worker sees)',
  builder: (yargs: Argv) =>
    withQueueOptions(withCommonOptions(yargs))
      .positional('dir', { type: 'string', demandOption: true, describe: 'folder of inputs, at a path every worker sees' })
      .option('pipeline', { type: 'string', demandOption: true, describe: 'a dream pipeline file, e.g. pipelines/mri-dream.yaml' })
      .option('set', { type: 'string', array: true, describe: 'override a value: --set ascend.steps=5' }) as unknown as Argv<SubmitArgs>,
  handler: async (args) => {
    const redis = redisTargetOf(args);
    if (!args.out) throw new UsageError('queue submit needs --out SHARED_OUT: a folder every worker sees, for the outputs and the manifest');
    const { raw, locate } = await readPipelineFile(args.pipeline);
    const mode = (raw.ascend as { mode?: string } | undefined)?.mode ?? DEFAULT_MODE;
    if (mode !== 'dream') throw new UsageError(`${args.pipeline}: queue submit needs a dream pipeline (ascend.mode: dream); found mode ${mode}`);
    const sets = [...(args.set ?? []), `seed.inputs=${JSON.stringify([args.dir])}`, ...commonOverrides(args)];
    const config = dreamConfigOf(validatePipeline(applyOverrides(raw, sets), { locate: locateUnlessOverridden(locate, sets) }), 'queue submit');
    const reporter = createReporter(args);
    try {
      const r = await submitFolder({ dir: args.dir, config, redis, queue: args.queue, command: `queue submit ${args.dir}`, onEvent: (e) => reporter.onEvent(e) });
      if (args.json) process.stdout.write(`${JSON.stringify({ ...r, queue: args.queue, redis: redis.display, out: config.write.out })}\n`);
      else {
        process.stdout.write(
          `submitted ${args.dir} to queue ${args.queue} at ${redis.display}: ${r.inputs} input${r.inputs === 1 ? '' : 's'}, ${r.added} new job${r.added === 1 ? '' : 's'}, ${r.queued} already queued, ${r.done} already done (run ${r.run.slice(0, 12)}); outputs and manifest.json go to ${config.write.out}\n`,
        );
      }
    } finally {
      reporter.stop();
    }
  },
};

interface StatusArgs extends QueueArgs {
  json: boolean;
  verbose: boolean;
}

const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'job counts, connected workers, and failed jobs with their reasons',
  builder: (yargs: Argv) =>
    withQueueOptions(yargs)
      .option('json', { type: 'boolean', default: false, describe: 'print the status as JSON' })
      .option('verbose', { type: 'boolean', default: false, describe: 'show stacks on errors' }) as unknown as Argv<StatusArgs>,
  handler: async (args) => {
    const s = await queueStatus(redisTargetOf(args), args.queue);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    const c = s.counts;
    const lines = [`queue ${s.queue} at ${s.redis}: ${c.waiting} waiting, ${c.active} active, ${c.delayed} delayed (retry backoff), ${c.completed} completed, ${c.failed} failed; ${s.workers} worker${s.workers === 1 ? '' : 's'} connected`];
    for (const a of s.active) lines.push(`  active: ${a.input}${a.worker ? ` on ${a.worker}` : ''}`);
    for (const f of s.failures) lines.push(`  failed: ${f.reason}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};

export const queueCommand: CommandModule = {
  command: 'queue <action>',
  describe: 'a job queue on Redis for runs across machines: queue submit DIR, queue status',
  builder: (yargs: Argv) => yargs.command(submitCommand).command(statusCommand).demandCommand(1, 'name an action: submit or status'),
  handler: () => undefined,
};
