/** `unet-dream activations INPUT... --layers L`: feature maps of layers on real slices (sheets + raw maps). */
import type { Argv, CommandModule } from 'yargs';
import { runActivations, type ActivationsRecord } from '../../activations/activations.js';
import { splitList, withCommonOptions, type CommonArgs } from '../options.js';
import { defined, modelConfig, progress, report } from './real-slices.js';

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

export function windowOption(text: string | undefined): unknown {
  return text === undefined ? undefined : text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
}

export const activationsCommand: CommandModule<object, ActivationsArgs> = {
  command: 'activations <inputs..>',
  describe: 'feature maps of layers on real slices (DICOM, NIfTI, photos, phantom:...) as contact sheets and raw .npy / NIfTI maps',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'files, folders, scan.nii.gz#z=40, phantom:shepp-logan[:SIZE], phantom:random:SEED[:SIZE]' })
      .option('layers', { type: 'string', describe: 'comma-separated layer names (required)' })
      .option('channels', { type: 'string', describe: '0-15 | 3,5,9 | random:16 | top:16 | all: channels on the sheet (default 0-15; raw maps hold all)' })
      .option('include', { type: 'string', describe: 'glob filter for folders, e.g. "*.dcm"' })
      .option('window', { type: 'string', describe: 'input percentiles LOW,HIGH mapped to [0, 1] (default 0.5,99.5)' })
      .option('colormap', { type: 'string', describe: 'sheet colormap (default viridis)' })
      .option('columns', { type: 'number', describe: 'tiles per row (default 8)' })
      .option('raw', { type: 'string', describe: 'npy | nifti: raw maps as .npy only, or also a float32 NIfTI for NIfTI/DICOM inputs (default nifti)' }) as unknown as Argv<ActivationsArgs>,
  handler: async (args) => {
    const out = args.out ?? 'outputs/activations';
    const config = defined({
      model: modelConfig(args),
      inputs: args.inputs,
      layers: splitList(args.layers),
      channels: args.channels,
      include: args.include,
      window: windowOption(args.window),
      colormap: args.colormap,
      columns: args.columns,
      raw: args.raw,
      seed: args.seed,
      out,
    });
    const result = await runActivations(config, progress(args));
    report(args, out, result, (r: ActivationsRecord) => `${r.input}: ${r.layers!.map((l) => `${l.layer} ${l.width}x${l.height}x${l.channels}`).join(', ')}`);
  },
};
