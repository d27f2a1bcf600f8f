/** `unet-dream prune`: remove the least important filters and write a smaller, valid model. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { runPrune } from '../../prune/run.js';
import { parseKeep } from '../../prune/select.js';
import { UsageError } from '../../errors.js';
import { splitList, undersamplingOf, withCommonOptions, withUndersamplingOptions, type CommonArgs, type UndersamplingArgs } from '../options.js';
import { createReporter } from '../reporter.js';

interface PruneArgs extends CommonArgs, UndersamplingArgs {
  keep: string;
  layers?: string;
  scores?: string;
  'dead-everywhere': boolean;
  n: number;
  size: number;
}

export const pruneCommand: CommandModule<object, PruneArgs> = {
  command: 'prune',
  describe: 'remove the least important filters (dead on data first, then by ablation score) and write a smaller model',
  builder: (yargs: Argv) =>
    withUndersamplingOptions(withCommonOptions(yargs))
      .option('keep', { type: 'string', default: '0.75', describe: "fraction of each layer's filters to keep, or dead (remove only dead-on-data filters)" })
      .option('layers', { type: 'string', describe: 'comma-separated convolution layers to prune (default: all but the output)' })
      .option('dead-everywhere', { type: 'boolean', default: false, describe: 'also remove the dead-on-data filters of every other layer' })
      .option('scores', { type: 'string', describe: 'folder of ablate-<layer>.json files from `ablate` (layers without one are ablated now)' })
      .option('n', { type: 'number', default: 50, describe: 'held-out phantoms for dead filters, ablation and the before/after score' })
      .option('size', { type: 'number', default: 128, describe: 'image size (power of two)' }) as unknown as Argv<PruneArgs>,
  handler: async (args) => {
    if (!args.out) throw new UsageError('prune needs --out DIR for the smaller model');
    const keep = parseKeep(args.keep);
    await selectBackend(args.backend === 'onnx' ? 'auto' : args.backend);
    const reporter = createReporter(args);
    try {
      const r = await runPrune(
        { model: args.model, architecture: args.architecture, keep, layers: splitList(args.layers), deadEverywhere: args['dead-everywhere'], scores: args.scores, n: args.n, size: args.size, seed: args.seed ?? 12345, undersampling: undersamplingOf(args), out: args.out, threads: args.threads },
        (e) => reporter.onEvent(e),
      );
      reporter.stop();
      if (args.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const removed = Object.values(r.removed).reduce((s, f) => s + f.length, 0);
      process.stdout.write(
        [
          ...r.layers.map((l) => `${l.layer.padEnd(12)} ${String(l.filters).padStart(4)} filters, ${String(l.dead.length).padStart(3)} dead, removed ${l.remove.length}`),
          `removed ${removed} filters: ${r.paramsBefore.toLocaleString('en-US')} -> ${r.paramsAfter.toLocaleString('en-US')} parameters (-${(100 * (1 - r.paramsAfter / r.paramsBefore)).toFixed(1)}%)`,
          `PSNR on ${r.quality.n} held-out phantoms: ${r.quality.full.psnr.toFixed(2)} -> ${r.quality.pruned.psnr.toFixed(2)} dB; SSIM ${r.quality.full.ssim.toFixed(4)} -> ${r.quality.pruned.ssim.toFixed(4)}`,
          `model in ${r.modelDir}`,
          `report: ${path.join(r.modelDir, 'index.html')}`,
          '',
        ].join('\n'),
      );
    } finally {
      reporter.stop();
    }
  },
};
