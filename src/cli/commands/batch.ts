/** `unet-dream batch DIR --pipeline P`: a dream pipeline over a folder, in parallel, resumable. */
import type { Argv, CommandModule } from 'yargs';
import { UsageError, invalidParameterError } from '../../errors.js';
import { DEFAULT_MODE } from '../../modes/index.js';
import { applyOverrides, readPipelineFile } from '../../pipeline/file.js';
import { commonOverrides, locateUnlessOverridden, withCommonOptions, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';

interface BatchArgs extends CommonArgs {
  dir: string;
  pipeline: string;
  concurrency?: number;
  resume: boolean;
  set?: string[];
}

export const batchCommand: CommandModule<object, BatchArgs> = {
  command: 'batch <dir>',
  describe: 'run a dream pipeline over every image in a folder (DICOM, NIfTI, photos), resumable',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .positional('dir', { type: 'string', demandOption: true, describe: 'folder of inputs (walked recursively)' })
      .option('pipeline', { type: 'string', demandOption: true, describe: 'a dream pipeline file, e.g. pipelines/mri-dream.yaml' })
      .option('concurrency', { type: 'number', describe: 'inputs processed at once, one worker each (default: 1 on ONNX Runtime, which threads inside, else the number of cores)' })
      .option('resume', { type: 'boolean', default: false, describe: 'skip inputs already done in OUT/manifest.json' })
      .option('set', { type: 'string', array: true, describe: 'override a value: --set ascend.steps=5' })
      .example('$0 batch scans/ --pipeline pipelines/mri-dream.yaml --out dreams', 'every MR file in scans/, written in its own format')
      .example('$0 batch scans/ --pipeline pipelines/mri-dream.yaml --out dreams --resume', 'continue a killed batch') as unknown as Argv<BatchArgs>,
  handler: async (args) => {
    const { raw, locate } = await readPipelineFile(args.pipeline);
    const mode = (raw.ascend as { mode?: string } | undefined)?.mode ?? DEFAULT_MODE;
    if (mode !== 'dream') throw new UsageError(`${args.pipeline}: batch needs a dream pipeline (ascend.mode: dream); found mode ${mode}`);
    const sets = [...(args.set ?? []), `seed.inputs=${JSON.stringify([args.dir])}`, ...commonOverrides(args)];
    const concurrency = args.concurrency;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw invalidParameterError('--concurrency', 'an integer >= 1', concurrency);
    await validateAndRun(applyOverrides(raw, sets), args, `batch ${args.dir}`, { locate: locateUnlessOverridden(locate, sets) }, { workers: concurrency, resume: args.resume });
  },
};
