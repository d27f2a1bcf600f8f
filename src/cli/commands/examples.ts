/** `unet-dream examples DIR --layers L`: the real patches that excite each filter most, a sheet per layer. */
import type { Argv, CommandModule } from 'yargs';
import { runExamples } from '../../examples/examples.js';
import { splitList, withCommonOptions, type CommonArgs } from '../options.js';
import { outcome } from '../outcome.js';
import { defined, modelConfig, progress } from './real-slices.js';
import { windowOption } from './activations.js';

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

export const examplesCommand: CommandModule<object, ExamplesArgs> = {
  command: 'examples [inputs..]',
  describe: 'top-k real patches per filter (cropped to the receptive field), with the synthetic image first',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .positional('inputs', { type: 'string', array: true, describe: 'folders or files of slices (or use --phantoms N)' })
      .option('layers', { type: 'string', describe: 'comma-separated layer names (required)' })
      .option('filters', { type: 'string', describe: '0-15 | 3,5,9 | random:8 | all (default random:8)' })
      .option('top', { type: 'number', describe: 'patches per filter (default 9)' })
      .option('phantoms', { type: 'number', describe: 'generate N random phantoms as the slices' })
      .option('size', { type: 'number', describe: 'phantom size (default 256)' })
      .option('synthetic', { type: 'boolean', describe: "put the filter's synthetic image first (default true; --no-synthetic to skip)" })
      .option('steps', { type: 'number', describe: 'ascent steps of the synthetic images (default 20)' })
      .option('batch', { type: 'number', describe: 'slices per forward pass (default 8)' })
      .option('include', { type: 'string', describe: 'glob filter for folders' })
      .option('window', { type: 'string', describe: 'input percentiles LOW,HIGH mapped to [0, 1] (default 0.5,99.5)' }) as unknown as Argv<ExamplesArgs>,
  handler: async (args) => {
    const out = args.out ?? 'outputs/examples';
    const config = defined({
      model: modelConfig(args),
      inputs: args.inputs,
      layers: splitList(args.layers),
      filters: args.filters,
      top: args.top,
      phantoms: args.phantoms,
      size: args.size,
      synthetic: args.synthetic,
      steps: args.steps,
      batch: args.batch,
      include: args.include,
      window: windowOption(args.window),
      seed: args.seed,
      out,
    });
    const result = await runExamples(config, progress(args));
    if (result.failures.length) outcome.exitCode = 1;
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    for (const f of result.failures) process.stdout.write(`ERROR ${f.error}\n`);
    for (const l of result.layers) process.stdout.write(`${l.layer}: ${l.filters.length} filters x top ${result.config.top} of ${result.slices} slices -> ${l.sheet}\n`);
    process.stdout.write(`wrote ${out} (${(result.wallTimeMs / 1000).toFixed(1)} s)\n`);
  },
};
