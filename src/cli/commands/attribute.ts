/** `unet-dream attribute INPUT... --target T --method M`: which pixels drive the output, a region or a filter. */
import type { Argv, CommandModule } from 'yargs';
import { runAttribute, type AttributionRecord } from '../../attribution/attribute.js';
import { METHOD_NAMES } from '../../attribution/methods.js';
import { withCommonOptions, type CommonArgs } from '../options.js';
import { defined, modelConfig, progress, report } from './real-slices.js';
import { windowOption } from './activations.js';

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
  include?: string;
  window?: string;
}

export const attributeCommand: CommandModule<object, AttributeArgs> = {
  command: 'attribute <inputs..>',
  describe: 'attribution maps (gradient, SmoothGrad, integrated gradients, Grad-CAM) of the output, a region or a filter on real slices',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'files, folders, scan.nii.gz#z=40, phantom:shepp-logan[:SIZE], phantom:random:SEED[:SIZE]' })
      .option('target', { type: 'string', describe: 'output | region:x0,y0,x1,y1 | filter:LAYER#k (default output)' })
      .option('method', { type: 'string', describe: `${METHOD_NAMES.join(' | ')} (default integrated-gradients)` })
      .option('layer', { type: 'string', describe: 'gradcam: the layer whose channels are weighed' })
      .option('samples', { type: 'number', describe: 'smoothgrad: noisy samples (default 50)' })
      .option('sigma', { type: 'number', describe: "smoothgrad: noise sd as a fraction of the input's range (default 0.15)" })
      .option('steps', { type: 'number', describe: 'integrated-gradients: path steps (default 64)' })
      .option('baseline', { type: 'string', describe: 'integrated-gradients: zero | blur (default zero)' })
      .option('blur-sigma', { type: 'number', describe: 'blurred baseline: Gaussian sigma in pixels (default 8)' })
      .option('batch', { type: 'number', describe: 'smoothgrad / IG images per engine call (default 2; batch 8 peaked at 3.4 GB on 256x256)' })
      .option('include', { type: 'string', describe: 'glob filter for folders' })
      .option('window', { type: 'string', describe: 'input percentiles LOW,HIGH mapped to [0, 1] (default 0.5,99.5)' }) as unknown as Argv<AttributeArgs>,
  handler: async (args) => {
    const out = args.out ?? 'outputs/attribute';
    const config = defined({
      model: modelConfig(args),
      inputs: args.inputs,
      target: args.target,
      method: args.method,
      layer: args.layer,
      samples: args.samples,
      sigma: args.sigma,
      steps: args.steps,
      baseline: args.baseline,
      blurSigma: args['blur-sigma'],
      batch: args.batch,
      include: args.include,
      window: windowOption(args.window),
      seed: args.seed,
      out,
    });
    const result = await runAttribute(config, progress(args));
    report(args, out, result, (r: AttributionRecord) => {
      const c = r.completeness ? `; sum ${r.completeness.sum.toPrecision(4)} vs f(x)-f(b) ${(r.completeness.fx - r.completeness.fBaseline).toPrecision(4)}` : '';
      return `${r.input}: ${r.method} of ${r.target} -> ${r.overlay}${r.native ? `, ${r.native}` : ''} (${((r.ms ?? 0) / 1000).toFixed(1)} s${c})`;
    });
  },
};
