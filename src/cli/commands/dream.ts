/** `unet-dream dream INPUTS...`: DeepDream on photos and MR slices, written in their own format. */
import type { Argv, CommandModule } from 'yargs';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { invalidParameterError } from '../../errors.js';
import { OUTPUT_FORMATS } from '../../pipeline/dream-run.js';
import { withCommonOptions, type CommonArgs } from '../options.js';
import { defined, validateAndRun } from './pipeline-runner.js';

interface DreamArgs extends CommonArgs {
  inputs: string[];
  layers: string;
  objective: string;
  octaves: number;
  'octave-scale': number;
  steps: number;
  step: number;
  normalize: string;
  jitter: number;
  tile: number;
  halo?: number;
  color: string;
  window: string;
  format?: string;
  axis?: string;
  volume?: number;
  include?: string;
}

function parseWindow(text: string): [number, number] {
  const [low, high] = text.split(',').map(Number);
  if (low === undefined || high === undefined || !Number.isFinite(low) || !Number.isFinite(high)) throw invalidParameterError('--window', 'LOW,HIGH percentiles, e.g. 0.5,99.5', text);
  return [low, high];
}

export const dreamCommand: CommandModule<object, DreamArgs> = {
  command: 'dream <inputs..>',
  describe: 'DeepDream on photos, DICOM and NIfTI slices or folders of them',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'files (file.nii.gz#z=40, file.dcm#frame=3) or folders' })
      .option('layers', { type: 'string', default: 'uconv128', describe: 'LAYER[:WEIGHT],... or LAYER#FILTER' })
      .option('objective', { choices: ['mean', 'l2'], default: 'mean', describe: 'mean or mean-squared activation' })
      .option('octaves', { type: 'number', default: 4 })
      .option('octave-scale', { type: 'number', default: 1.4 })
      .option('steps', { type: 'number', default: 10, describe: 'steps per octave' })
      .option('step', { type: 'number', default: 0.01 })
      .option('normalize', { choices: GRADIENT_NORMALIZATIONS, default: 'rms', describe: 'gradient normalisation' })
      .option('jitter', { type: 'number', default: 32, describe: 'random roll per step, pixels' })
      .option('tile', { type: 'number', default: 512, describe: 'gradient tile size: bounds memory' })
      .option('halo', { type: 'number', describe: "context around each tile, pixels (default: the model's receptive field - 1, which makes tiles exact)" })
      .option('color', { choices: ['luminance', 'gray'], default: 'luminance', describe: 'RGB photos: dream on luminance and keep chroma, or convert to gray' })
      .option('window', { type: 'string', default: '0.5,99.5', describe: 'input percentiles mapped to [0, 1]' })
      .option('format', { choices: OUTPUT_FORMATS, describe: 'output format (default: MR inputs keep theirs, photos PNG)' })
      .option('axis', { choices: ['x', 'y', 'z'], describe: 'NIfTI slicing axis' })
      .option('volume', { type: 'number', describe: 'NIfTI 4-D volume index' })
      .option('include', { type: 'string', describe: 'glob filter for folders, e.g. "*.dcm"' }) as unknown as Argv<DreamArgs>,
  handler: async (args) => {
    await validateAndRun(
      {
        model: defined({ source: args.model, architecture: args.architecture, backend: args.backend, device: args.device, threads: args.threads }),
        seed: defined({ inputs: args.inputs, include: args.include, axis: args.axis, volume: args.volume, window: parseWindow(args.window), seed: args.seed }),
        ascend: {
          mode: 'dream',
          layers: [args.layers],
          objective: args.objective,
          octaves: args.octaves,
          octaveScale: args['octave-scale'],
          steps: args.steps,
          step: args.step,
          normalize: args.normalize,
          jitter: args.jitter,
          tile: args.tile,
          halo: args.halo,
          color: args.color,
        },
        write: defined({ out: args.out ?? 'outputs/dream', format: args.format }),
      },
      args,
      'dream',
    );
  },
};
