/** `unet-dream dissect`: which filters detect aliasing, which detect edges, which are dead on data. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { runDissect } from '../../dissect/run.js';
import { DISSECT_DEFAULTS } from '../../dissect/dissect.js';
import { splitList, undersamplingOf, withCommonOptions, withUndersamplingOptions, type CommonArgs, type UndersamplingArgs } from '../options.js';
import { createReporter } from '../reporter.js';
import { outcome } from '../outcome.js';

interface DissectArgs extends CommonArgs, UndersamplingArgs {
  phantoms: string;
  size: number;
  layers?: string;
  quantile: number;
  'alias-threshold': number;
  'edge-threshold': number;
  iou: number;
  sheets: boolean;
  'sheet-top': number;
  'sheet-steps': number;
}

export const dissectCommand: CommandModule<object, DissectArgs> = {
  command: 'dissect',
  describe: 'label every convolution filter as aliasing detector, edge detector, both, neither or dead on data (network dissection)',
  builder: (yargs: Argv) =>
    withUndersamplingOptions(withCommonOptions(yargs))
      .option('phantoms', { type: 'string', default: '200', describe: 'N held-out phantoms (split test, as eval), or a folder of images to undersample' })
      .option('size', { type: 'number', default: 128, describe: 'image size (power of two)' })
      .option('layers', { type: 'string', describe: 'comma-separated convolution layers (default: all)' })
      .option('quantile', { type: 'number', default: DISSECT_DEFAULTS.quantile, describe: "activation quantile of a unit's mask (network dissection's top 0.5%)" })
      .option('alias-threshold', { type: 'number', default: DISSECT_DEFAULTS.aliasThreshold, describe: '|zero-filled - target| above this is aliasing' })
      .option('edge-threshold', { type: 'number', default: DISSECT_DEFAULTS.edgeThreshold, describe: 'target gradient magnitude above this is an edge' })
      .option('iou', { type: 'number', default: DISSECT_DEFAULTS.iouThreshold, describe: 'IoU from which a filter detects a concept' })
      .option('sheets', { type: 'boolean', default: true, describe: 'write a sheet per layer (synthetic image + best activation)' })
      .option('sheet-top', { type: 'number', default: 16, describe: 'filters per sheet, best aliasing IoU first' })
      .option('sheet-steps', { type: 'number', default: 20, describe: 'ascent steps of the synthetic images' }) as unknown as Argv<DissectArgs>,
  handler: async (args) => {
    await selectBackend(args.backend === 'onnx' ? 'auto' : args.backend);
    const source = /^\d+$/.test(args.phantoms) ? { kind: 'phantoms' as const, n: Number(args.phantoms) } : { kind: 'folder' as const, dir: args.phantoms };
    const reporter = createReporter(args);
    try {
      const run = await runDissect(
        {
          model: args.model,
          architecture: args.architecture,
          source,
          size: args.size,
          seed: args.seed ?? 12345,
          undersampling: undersamplingOf(args),
          out: args.out ?? 'outputs/dissect',
          layers: splitList(args.layers),
          quantile: args.quantile,
          aliasThreshold: args['alias-threshold'],
          edgeThreshold: args['edge-threshold'],
          iouThreshold: args.iou,
          threads: args.threads,
          backend: args.backend,
          sheets: args.sheets ? { top: args['sheet-top'], steps: args['sheet-steps'] } : false,
        },
        (e) => reporter.onEvent(e),
      );
      reporter.stop();
      if (run.failed.length) outcome.exitCode = 1;
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ ...run.result, layers: run.result.layers.map(({ units: _u, ...s }) => s), files: run.files, failed: run.failed }, null, 2)}\n`);
        return;
      }
      const { maskFractions: f, images } = run.result;
      process.stdout.write(
        [`${images} images; aliasing mask ${(100 * f.aliasing).toFixed(1)}% of pixels, edge mask ${(100 * f.edge).toFixed(1)}%`, ...run.table, ...run.failed.map((x) => `ERROR ${x.error}`), `wrote ${run.files.length} files to ${args.out ?? 'outputs/dissect'}`, `report: ${path.join(args.out ?? 'outputs/dissect', 'index.html')}`, ''].join('\n'),
      );
    } finally {
      reporter.stop();
    }
  },
};
