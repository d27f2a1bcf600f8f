/** `unet-dream dream INPUTS...`: DeepDream on photos and MR slices, written in their own format. */
import type { Argv, CommandModule } from 'yargs';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { UsageError, invalidParameterError } from '../../errors.js';
import { RANGE_MODES } from '../../io/intensity.js';
import { OUTPUT_FORMATS, dreamStages } from '../../modes/dream/schema.js';
import { COMMON_FLAGS, defined, modelConfig, withCommonOptions, withDefault, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';

interface DreamArgs extends CommonArgs {
  inputs: string[];
  layers?: string;
  objective?: string;
  octaves?: number;
  'octave-scale'?: number;
  steps?: number;
  step?: number;
  normalize?: string;
  jitter?: number;
  tile?: number;
  halo?: number;
  color?: string;
  window?: string;
  format?: string;
  axis?: string;
  volume?: number;
  include?: string;
  animate?: boolean;
  range?: string;
  resume: boolean;
  overwrite: boolean;
}

/** Config paths the dream flags set: messages about them name the flag. */
const FLAGS: Readonly<Record<string, string>> = Object.freeze({
  ...COMMON_FLAGS,
  'seed.inputs': 'INPUTS',
  'seed.include': '--include',
  'seed.axis': '--axis',
  'seed.volume': '--volume',
  'seed.window': '--window',
  'ascend.layers': '--layers',
  'ascend.objective': '--objective',
  'ascend.octaves': '--octaves',
  'ascend.octaveScale': '--octave-scale',
  'ascend.steps': '--steps',
  'ascend.step': '--step',
  'ascend.normalize': '--normalize',
  'ascend.jitter': '--jitter',
  'ascend.tile': '--tile',
  'ascend.halo': '--halo',
  'ascend.color': '--color',
  'write.format': '--format',
  'write.animate': '--animate',
  'write.range': '--range',
});

function parseWindow(text: string): [number, number] {
  const [low, high] = text.split(',').map(Number);
  if (low === undefined || high === undefined || !Number.isFinite(low) || !Number.isFinite(high)) throw invalidParameterError('--window', 'LOW,HIGH percentiles, e.g. 0.5,99.5', text);
  return [low, high];
}

const { seed, ascend, write } = dreamStages;

/** --range, --resume and --overwrite: what dream and batch share about their outputs. */
export function withOutputOptions<T>(yargs: Argv<T>): Argv<T> {
  return yargs
    .option('range', { choices: RANGE_MODES, describe: withDefault("output values bounded to the input's range (a magnitude stays non-negative) or left free", write, 'range') })
    .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --out: skip inputs already done (the settings must be the same)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace the run in --out: remove the files its manifest names, then run' }) as Argv<T>;
}

/** --resume continues a run, --overwrite replaces it: not both. */
export function checkOutputFlags(args: { resume: boolean; overwrite: boolean }): void {
  if (args.resume && args.overwrite) throw new UsageError('--resume continues the run in --out and --overwrite replaces it: give one of them');
}

export const dreamCommand: CommandModule<object, DreamArgs> = {
  command: 'dream <inputs..>',
  describe: 'DeepDream on photos, DICOM and NIfTI slices or folders of them',
  builder: (yargs: Argv) =>
    withOutputOptions(withCommonOptions(yargs))
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'files (file.nii.gz#z=40, file.dcm#frame=3) or folders' })
      .option('layers', { type: 'string', describe: withDefault('LAYER[:WEIGHT],... or LAYER#FILTER', ascend, 'layers') })
      .option('objective', { choices: ['mean', 'l2'], describe: withDefault('mean or mean-squared activation', ascend, 'objective') })
      .option('octaves', { type: 'number', describe: withDefault('scales dreamed, smallest first', ascend, 'octaves') })
      .option('octave-scale', { type: 'number', describe: withDefault('size ratio between octaves', ascend, 'octaveScale') })
      .option('steps', { type: 'number', describe: withDefault('steps per octave', ascend, 'steps') })
      .option('step', { type: 'number', describe: withDefault('step size', ascend, 'step') })
      .option('normalize', { choices: GRADIENT_NORMALIZATIONS, describe: withDefault('gradient normalisation', ascend, 'normalize') })
      .option('jitter', { type: 'number', describe: withDefault('random roll per step, pixels', ascend, 'jitter') })
      .option('tile', { type: 'number', describe: withDefault('gradient tile size: bounds memory', ascend, 'tile') })
      .option('halo', { type: 'number', describe: "context around each tile, pixels (default: the model's receptive field - 1, which makes tiles exact)" })
      .option('color', { choices: ['luminance', 'gray'], describe: withDefault('RGB photos: dream on luminance and keep chroma, or convert to gray', ascend, 'color') })
      .option('window', { type: 'string', describe: withDefault('input percentiles LOW,HIGH mapped to [0, 1]', seed, 'window') })
      .option('format', { choices: OUTPUT_FORMATS, describe: 'output format (default: MR inputs keep theirs, photos PNG)' })
      .option('axis', { choices: ['x', 'y', 'z'], describe: 'NIfTI slicing axis' })
      .option('volume', { type: 'number', describe: 'NIfTI 4-D: dream only this volume (0-based; the output name carries it, -t1); default every volume, written as one 4-D file' })
      .option('include', { type: 'string', describe: 'glob filter for folders, e.g. "*.dcm"' })
      .option('animate', { type: 'boolean', describe: 'also write an animated WebP of each dream (first slice)' })
      .example('$0 dream photo.jpg --layers uconv128 --out dreams', 'DeepDream on a photo, written as PNG')
      .example("$0 dream 'brain.nii.gz#z=40' scans/ --steps 5", 'a NIfTI slice and a folder of MR files, each in its own format') as unknown as Argv<DreamArgs>,
  handler: async (args) => {
    checkOutputFlags(args);
    // Only what the user set: the dream schema holds every default.
    await validateAndRun(
      {
        model: modelConfig(args),
        seed: defined({ inputs: args.inputs, include: args.include, axis: args.axis, volume: args.volume, window: args.window === undefined ? undefined : parseWindow(args.window), seed: args.seed }),
        ascend: defined({
          mode: 'dream',
          layers: args.layers === undefined ? undefined : [args.layers],
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
        }),
        write: defined({ out: args.out, format: args.format, animate: args.animate, range: args.range }),
      },
      args,
      'dream',
      { flags: FLAGS },
      { resume: args.resume, overwrite: args.overwrite },
    );
  },
};
