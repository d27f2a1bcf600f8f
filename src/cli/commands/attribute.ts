/** `unet-dream attribute INPUT... --target T --method M`: which pixels drive the output, a region or a filter. */
import type { Argv, CommandModule } from 'yargs';
import { METHOD_NAMES } from '../../attribution/methods.js';
import { attributeStages } from '../../modes/attribute/schema.js';
import { defined, modelConfig, withCommonOptions, withDefault, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';
import { REAL_SLICE_FLAGS, windowOption, withSliceOptions } from './real-slices.js';

interface AttributeArgs extends CommonArgs {
  inputs: string[];
  target?: string;
  method?: string;
  layer?: string;
  samples?: number;
  sigma?: number;
  steps?: number;
  baseline?: string;
  'blur-sigma'?: number;
  batch?: number;
  memory?: number;
  include?: string;
  window?: string;
}

const { ascend } = attributeStages;

const FLAGS: Readonly<Record<string, string>> = Object.freeze({
  ...REAL_SLICE_FLAGS,
  'ascend.target': '--target',
  'ascend.method': '--method',
  'ascend.layer': '--layer',
  'ascend.samples': '--samples',
  'ascend.sigma': '--sigma',
  'ascend.steps': '--steps',
  'ascend.baseline': '--baseline',
  'ascend.blurSigma': '--blur-sigma',
  'ascend.batch': '--batch',
  'ascend.memory': '--memory',
});

export const attributeCommand: CommandModule<object, AttributeArgs> = {
  command: 'attribute <inputs..>',
  describe: 'attribution maps (gradient, SmoothGrad, integrated gradients, Grad-CAM) of the output, a region or a filter on real slices',
  builder: (yargs: Argv) =>
    withSliceOptions(withCommonOptions(yargs))
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'files, folders, scan.nii.gz#z=40, phantom:shepp-logan[:SIZE], phantom:random:SEED[:SIZE]' })
      .option('target', { type: 'string', describe: withDefault('output | region:x0,y0,x1,y1 | filter:LAYER#k', ascend, 'target') })
      .option('method', { type: 'string', describe: withDefault(METHOD_NAMES.join(' | '), ascend, 'method') })
      .option('layer', { type: 'string', describe: 'gradcam: the layer whose channels are weighed' })
      .option('samples', { type: 'number', describe: withDefault('smoothgrad: noisy samples', ascend, 'samples') })
      .option('sigma', { type: 'number', describe: withDefault("smoothgrad: noise sd as a fraction of the input's range", ascend, 'sigma') })
      .option('steps', { type: 'number', describe: withDefault('integrated-gradients: path steps', ascend, 'steps') })
      .option('baseline', { type: 'string', describe: withDefault('integrated-gradients: zero | blur', ascend, 'baseline') })
      .option('blur-sigma', { type: 'number', describe: withDefault('blurred baseline: Gaussian sigma in pixels', ascend, 'blurSigma') })
      .option('memory', { type: 'number', describe: withDefault('smoothgrad / IG: MB the images of one engine call may hold; sets how many go per call', ascend, 'memory') })
      .option('batch', { type: 'number', describe: 'smoothgrad / IG: images per engine call (default: as many as fit --memory)' })
      .example('$0 attribute scan.nii.gz#z=40 --method integrated-gradients --baseline blur', 'which pixels drive the output, with a completeness check')
      .example('$0 attribute slice.dcm --target region:80,80,140,140 --method smoothgrad', 'which pixels drive one region of the output') as unknown as Argv<AttributeArgs>,
  handler: async (args) => {
    const config = {
      model: modelConfig(args),
      seed: defined({ inputs: args.inputs, include: args.include, window: windowOption(args.window), seed: args.seed }),
      ascend: defined({
        mode: 'attribute',
        target: args.target,
        method: args.method,
        layer: args.layer,
        samples: args.samples,
        sigma: args.sigma,
        steps: args.steps,
        baseline: args.baseline,
        blurSigma: args['blur-sigma'],
        batch: args.batch,
        memory: args.memory,
      }),
      write: defined({ out: args.out }),
    };
    await validateAndRun(config, args, 'attribute', { flags: FLAGS });
  },
};
