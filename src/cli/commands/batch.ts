/** `unet-dream batch DIR --pipeline P`: a dream pipeline over a folder, in parallel, resumable, optionally one shard of it. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UsageError, invalidParameterError } from '../../errors.js';
import { ensureWritableDir } from '../../io/atomic.js';
import { DEFAULT_MODE } from '../../modes/index.js';
import { applyOverrides, readPipelineFile } from '../../pipeline/file.js';
import { validatePipeline } from '../../pipeline/validate.js';
import { dreamConfigOf } from '../../queue/run-one.js';
import { parseShard, planShard } from '../../queue/shard.js';
import { packageVersions, writeManifest, type Manifest } from '../../run/manifest.js';
import { commonOverrides, locateUnlessOverridden, withCommonOptions, type CommonArgs } from '../options.js';
import { checkOutputFlags, withOutputOptions } from './dream.js';
import { validateAndRun } from './pipeline-runner.js';

interface BatchArgs extends CommonArgs {
  dir: string;
  pipeline: string;
  concurrency?: number;
  resume: boolean;
  overwrite: boolean;
  range?: string;
  set?: string[];
  shard?: string;
}

export const batchCommand: CommandModule<object, BatchArgs> = {
  command: 'batch <dir>',
  describe: 'run a dream pipeline over every image in a folder (DICOM, NIfTI, photos), resumable',
  builder: (yargs: Argv) =>
    withOutputOptions(withCommonOptions(yargs))
      .positional('dir', { type: 'string', demandOption: true, describe: 'folder of inputs (walked recursively)' })
      .option('pipeline', { type: 'string', demandOption: true, describe: 'a dream pipeline file, e.g. pipelines/mri-dream.yaml' })
      .option('concurrency', { type: 'number', describe: 'inputs processed at once, one worker each (default: 1 on ONNX Runtime, which threads inside, else the number of cores)' })
      .option('resume', { type: 'boolean', default: false, describe: 'skip inputs already done in OUT/manifest.json' })
      .option('shard', { type: 'string', describe: 'do only shard k of N (0 <= k < N) of the sorted inputs, e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; combine with `merge`' })
      .option('set', { type: 'string', array: true, describe: 'override a value: --set ascend.steps=5' })
      .example('$0 batch scans/ --pipeline pipelines/mri-dream.yaml --out dreams', 'every MR file in scans/, written in its own format')
      .example('$0 batch scans/ --pipeline pipelines/mri-dream.yaml --out dreams --resume', 'continue a killed batch') as unknown as Argv<BatchArgs>,
  handler: async (args) => {
    checkOutputFlags(args);
    const shard = args.shard === undefined ? undefined : parseShard(args.shard);
    const { raw, locate } = await readPipelineFile(args.pipeline);
    const mode = (raw.ascend as { mode?: string } | undefined)?.mode ?? DEFAULT_MODE;
    if (mode !== 'dream') throw new UsageError(`${args.pipeline}: batch needs a dream pipeline (ascend.mode: dream); found mode ${mode}`);
    const sets = [...(args.set ?? []), `seed.inputs=${JSON.stringify([args.dir])}`, ...(args.range === undefined ? [] : [`write.range=${args.range}`]), ...commonOverrides(args)];
    const concurrency = args.concurrency;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw invalidParameterError('--concurrency', 'an integer >= 1', concurrency);
    const run = { workers: concurrency, resume: args.resume, overwrite: args.overwrite };
    if (!shard) {
      await validateAndRun(applyOverrides(raw, sets), args, `batch ${args.dir}`, { locate: locateUnlessOverridden(locate, sets) }, run);
      return;
    }
    const config = dreamConfigOf(validatePipeline(applyOverrides(raw, sets), { locate: locateUnlessOverridden(locate, sets) }), 'batch');
    const plan = await planShard(config, shard);
    const out = config.write.out;
    if (plan.assigned.length === 0) {
      await ensureWritableDir(out);
      const empty = { command: `batch ${args.dir}`, config, model: null, engine: null, versions: packageVersions(), seed: config.seed.seed, startedAt: new Date().toISOString(), wallTimeMs: 0, results: [], shard: plan };
      await writeManifest(out, empty as unknown as Manifest);
      process.stdout.write(`shard ${shard.index}/${shard.count} has no inputs (${plan.total} in all); wrote an empty manifest to ${path.join(out, 'manifest.json')}\n`);
      return;
    }
    // The shard runs the whole folder's config (so names are planned over every input, as one run plans them)
    // and does only its share; its manifest records the split for `merge`.
    const manifest = await validateAndRun(applyOverrides(raw, sets), args, `batch ${args.dir}`, { locate: locateUnlessOverridden(locate, sets) }, { ...run, shard });
    await writeManifest(out, { ...manifest, shard: plan } as Manifest);
  },
};
