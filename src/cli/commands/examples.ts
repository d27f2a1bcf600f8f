/** `unet-dream examples DIR --layers L`: the real patches that excite each filter most, a sheet per layer. */
import type { Argv, CommandModule } from 'yargs';
import { examplesStages } from '../../modes/examples/schema.js';
import { defined, modelConfig, splitList, withCommonOptions, withDefault, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';
import { REAL_SLICE_FLAGS, windowOption, withSliceOptions } from './real-slices.js';

interface ExamplesArgs extends CommonArgs {
  inputs?: string[];
  layers?: string;
  filters?: string;
  top?: number;
  phantoms?: number;
  size?: number;
  synthetic?: boolean;
  steps?: number;
  batch?: number;
  include?: string;
  window?: string;
}

const { seed, ascend } = examplesStages;

const FLAGS: Readonly<Record<string, string>> = Object.freeze({
  ...REAL_SLICE_FLAGS,
  'seed.phantoms': '--phantoms',
  'seed.size': '--size',
  'ascend.layers': '--layers',
  'ascend.filters': '--filters',
  'ascend.top': '--top',
  'ascend.synthetic': '--synthetic',
  'ascend.steps': '--steps',
  'ascend.batch': '--batch',
});

export const examplesCommand: CommandModule<object, ExamplesArgs> = {
  command: 'examples [inputs..]',
  describe: 'top-k real patches per filter (cropped to the receptive field), with the synthetic image first',
  builder: (yargs: Argv) =>
    withSliceOptions(withCommonOptions(yargs))
      .positional('inputs', { type: 'string', array: true, describe: 'folders or files of slices (or use --phantoms N)' })
      .option('layers', { type: 'string', describe: 'comma-separated layer names (required)' })
      .option('filters', { type: 'string', describe: withDefault('0-15 | 3,5,9 | random:8 | all', ascend, 'filters') })
      .option('top', { type: 'number', describe: withDefault('patches per filter', ascend, 'top') })
      .option('phantoms', { type: 'number', describe: 'generate N random phantoms as the slices' })
      .option('size', { type: 'number', describe: withDefault('phantom size', seed, 'size') })
      .option('synthetic', { type: 'boolean', describe: "put the filter's synthetic image first (default true; --no-synthetic to skip)" })
      .option('steps', { type: 'number', describe: 'ascent steps of the synthetic images (default 20)' })
      .option('batch', { type: 'number', describe: withDefault('slices per forward pass', ascend, 'batch') })
      .example('$0 examples slices/ --layers dconv128 --filters 0-7 --top 9', 'the 9 strongest patches of 8 filters over a folder')
      .example('$0 examples --phantoms 100 --layers dconv256 --filters random:8', 'the same over 100 generated phantoms') as unknown as Argv<ExamplesArgs>,
  handler: async (args) => {
    const config = {
      model: modelConfig(args),
      seed: defined({ inputs: args.inputs, phantoms: args.phantoms, size: args.size, include: args.include, window: windowOption(args.window), seed: args.seed }),
      ascend: defined({
        mode: 'examples',
        layers: splitList(args.layers),
        filters: args.filters,
        top: args.top,
        synthetic: args.synthetic,
        steps: args.steps,
        batch: args.batch,
      }),
      write: defined({ out: args.out }),
    };
    await validateAndRun(config, args, 'examples', { flags: FLAGS });
  },
};
