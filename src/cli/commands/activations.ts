/** `unet-dream activations INPUT... --layers L`: feature maps of layers on real slices (sheets + raw maps). */
import type { Argv, CommandModule } from 'yargs';
import { activationsStages } from '../../modes/activations/schema.js';
import { COLORMAPS } from '../../render/colormap.js';
import { defined, modelConfig, splitList, withCommonOptions, withDefault, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';
import { REAL_SLICE_FLAGS, windowOption, withSliceOptions } from './real-slices.js';

interface ActivationsArgs extends CommonArgs {
  inputs: string[];
  layers?: string;
  channels?: string;
  include?: string;
  window?: string;
  colormap?: string;
  columns?: number;
  raw?: string;
}

const { ascend, render, write } = activationsStages;

const FLAGS: Readonly<Record<string, string>> = Object.freeze({
  ...REAL_SLICE_FLAGS,
  'ascend.layers': '--layers',
  'ascend.channels': '--channels',
  'render.colormap': '--colormap',
  'render.columns': '--columns',
  'write.raw': '--raw',
});

export const activationsCommand: CommandModule<object, ActivationsArgs> = {
  command: 'activations <inputs..>',
  describe: 'feature maps of layers on real slices (DICOM, NIfTI, photos, phantom:...) as contact sheets and raw .npy / NIfTI maps',
  builder: (yargs: Argv) =>
    withSliceOptions(withCommonOptions(yargs))
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'files, folders, scan.nii.gz#z=40, phantom:shepp-logan[:SIZE], phantom:random:SEED[:SIZE]' })
      .option('layers', { type: 'string', describe: 'comma-separated layer names (required)' })
      .option('channels', { type: 'string', describe: withDefault('0-15 | 3,5,9 | random:16 | top:16 | all: channels on the sheet (raw maps hold all)', ascend, 'channels') })
      .option('colormap', { type: 'string', describe: withDefault(COLORMAPS.join(' | '), render, 'colormap') })
      .option('columns', { type: 'number', describe: withDefault('tiles per row', render, 'columns') })
      .option('raw', { type: 'string', describe: withDefault('npy | nifti: raw maps as .npy only, or also a float32 NIfTI for NIfTI/DICOM inputs', write, 'raw') })
      .example('$0 activations scan.nii.gz#z=40 --layers dconv64,uconv64 --channels top:16', 'the 16 most active channels of two layers on one slice')
      .example('$0 activations slices/ --include "*.dcm" --layers conv512 --channels all --raw npy', 'every channel of conv512 on a folder of DICOM slices, raw maps as .npy only') as unknown as Argv<ActivationsArgs>,
  handler: async (args) => {
    const config = {
      model: modelConfig(args),
      seed: defined({ inputs: args.inputs, include: args.include, window: windowOption(args.window), seed: args.seed }),
      ascend: defined({ mode: 'activations', layers: splitList(args.layers), channels: args.channels }),
      render: defined({ colormap: args.colormap, columns: args.columns }),
      write: defined({ out: args.out, raw: args.raw }),
    };
    await validateAndRun(config, args, 'activations', { flags: FLAGS });
  },
};
