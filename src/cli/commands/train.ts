/** `unet-dream train`: phantoms + k-space undersampling -> a trained U-Net (TensorFlow.js directory). */
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { invalidParameterError } from '../../errors.js';
import { parseDataSpec } from '../../train/data.js';
import { trainUNet, type TrainOptions } from '../../train/train.js';
import { VOLUME_AXES, type VolumeAxis } from '../../train/volumes.js';
import { undersamplingOf, withBackendOption, withOutOption, withOutputOptions, withRuntimeOptions, withSeedOption, withUndersamplingOptions, type CommonArgs, type UndersamplingArgs } from '../options.js';
import { createReporter } from '../reporter.js';

interface TrainArgs extends CommonArgs, UndersamplingArgs {
  steps: number;
  batch: number;
  size: number;
  crop?: number;
  lr: number;
  loss: string;
  schedule: string;
  resume: boolean;
  'checkpoint-every': number;
  'validate-every': number;
  'validation-size': number;
  float16: boolean;
  residual: boolean;
  init?: string;
  data: string;
  axes: string;
  'validation-fraction': number;
  augment: boolean;
  'augment-blur': number;
}

function parseAxes(text: string): VolumeAxis[] {
  const axes = [...new Set(text.split(''))] as VolumeAxis[];
  if (axes.length === 0 || axes.some((a) => !VOLUME_AXES.includes(a))) throw invalidParameterError('axes', 'one or more of x, y, z (e.g. xyz or z)', text);
  return axes;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'train the U-Net to remove aliasing from undersampled phantoms and/or real MR slices',
  builder: (yargs: Argv) =>
    withUndersamplingOptions(withOutputOptions(withOutOption(withSeedOption(withRuntimeOptions(withBackendOption(yargs))), 'model folder (default models/my-unet)')))
      .option('steps', { type: 'number', default: 2000, describe: 'optimizer steps' })
      .option('batch', { type: 'number', default: 8, describe: 'images per step' })
      .option('size', { type: 'number', default: 128, describe: 'simulated image size (power of two): the acquisition whose aliasing is learned' })
      .option('crop', { type: 'number', describe: 'training patch size cut from each image (default: --size; 64 trains ~4x faster per step)' })
      .option('lr', { type: 'number', default: 1e-3, describe: 'Adam learning rate' })
      .option('loss', { choices: ['l1', 'mse'], default: 'l1', describe: 'training loss: mean absolute or mean squared error' })
      .option('schedule', { choices: ['constant', 'cosine'], default: 'cosine', describe: 'learning rate over the run: constant, or cosine decay to lr/20 at the last step' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the last checkpoint in --out' })
      .option('checkpoint-every', { type: 'number', default: 50, describe: 'steps between checkpoints (a killed run loses at most this many)' })
      .option('validate-every', { type: 'number', default: 50, describe: 'steps between validation PSNR measurements' })
      .option('validation-size', { type: 'number', default: 16, describe: 'held-out validation phantoms' })
      .option('residual', { type: 'boolean', default: true, describe: 'learn the aliasing (target - input); reconstruction = input + output' })
      .option('init', { type: 'string', describe: 'start from this model (folder, model.json or Keras file; e.g. a pruned model) with its weights, instead of a fresh U-Net' })
      .option('data', { type: 'string', default: 'phantoms', describe: 'training pairs: phantoms, nifti:PATH[,PATH...] (slices of NIfTI volumes) or mix:P:PATH[,PATH...] (share P of phantoms, the rest slices)' })
      .option('axes', { type: 'string', default: 'xyz', describe: 'NIfTI volumes: slice along these voxel axes (any of x, y, z)' })
      .option('validation-fraction', { type: 'number', default: 0.15, describe: 'NIfTI volumes: share of the slices along z held out (top slab) for validation' })
      .option('augment', { type: 'boolean', default: true, describe: 'NIfTI slices: random zoom, flips, 90-degree rotations, small affine warps, intensity scale and gamma' })
      .option('augment-blur', { type: 'number', default: 0, describe: 'NIfTI slices: half of them blurred with a Gaussian of sigma up to this many pixels (smooth inputs such as 2 mm templates); 0 = none' })
      .option('float16', { type: 'boolean', default: true, describe: 'store the final weights as float16' })
      .example('$0 train --steps 400 --crop 64 --out models/my-unet', 'a short training run on 64-pixel patches')
      .example('$0 train --out models/my-unet --resume', 'continue from the last checkpoint') as unknown as Argv<TrainArgs>,
  handler: async (args) => {
    const options: TrainOptions = {
      out: args.out ?? 'models/my-unet',
      steps: args.steps,
      batch: args.batch,
      size: args.size,
      crop: args.crop ?? args.size,
      ...undersamplingOf(args),
      lr: args.lr,
      loss: args.loss as TrainOptions['loss'],
      schedule: args.schedule as TrainOptions['schedule'],
      seed: args.seed ?? 0,
      resume: args.resume,
      checkpointEvery: args['checkpoint-every'],
      validateEvery: args['validate-every'],
      validationSize: args['validation-size'],
      float16: args.float16,
      residual: args.residual,
      // onnx and auto train on onnxruntime (auto falls back to tfjs); a tfjs backend name trains on it.
      engine: args.backend === 'onnx' ? 'onnx' : args.backend === 'auto' ? 'auto' : 'tfjs',
      threads: args.threads,
      device: args.device as TrainOptions['device'],
      init: args.init,
      data: parseDataSpec(args.data),
      axes: parseAxes(args.axes),
      validationFraction: args['validation-fraction'],
      augment: args.augment,
      augmentBlur: args['augment-blur'],
    };
    const backend = await selectBackend(args.backend === 'onnx' ? 'auto' : args.backend);
    const reporter = createReporter(args);
    reporter.onEvent({
      type: 'info',
      message: options.engine === 'tfjs' ? `training on tfjs ${backend.name} (${backend.provider})` : `training on onnxruntime (validation on tfjs ${backend.name})`,
    });
    try {
      const result = await trainUNet(options, (e) => reporter.onEvent(e));
      const summary = { ...result, validationBackend: backend.name };
      process.stdout.write(
        args.json
          ? `${JSON.stringify(summary, null, 2)}\n`
          : `trained ${result.steps} steps on ${result.engine} in ${(result.wallTimeMs / 1000).toFixed(0)} s (${result.imagesPerSecond.toFixed(2)} images/s); validation PSNR ${result.validation.network.psnr.toFixed(2)} dB vs zero-filled ${result.validation.zeroFilled.psnr.toFixed(2)} dB; model in ${result.modelDir}\n`,
      );
    } finally {
      reporter.stop();
    }
  },
};
