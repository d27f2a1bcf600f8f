/** `unet-dream ablate`: zero each filter in turn; PSNR and SSIM change on held-out phantoms, sorted. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { runAblate } from '../../ablate/run.js';
import { splitList, undersamplingOf, withCommonOptions, withUndersamplingOptions, type CommonArgs, type UndersamplingArgs } from '../options.js';
import { createReporter } from '../reporter.js';

interface AblateArgs extends CommonArgs, UndersamplingArgs {
  layers: string;
  n: number;
  size: number;
  batch: number;
}

export const ablateCommand: CommandModule<object, AblateArgs> = {
  command: 'ablate',
  describe: 'zero each filter of the given layers in turn and measure the PSNR/SSIM change on held-out phantoms',
  builder: (yargs: Argv) =>
    withUndersamplingOptions(withCommonOptions(yargs))
      .option('layers', { type: 'string', demandOption: true, describe: 'comma-separated convolution layers' })
      .option('n', { type: 'number', default: 50, describe: 'held-out phantoms (split test, as eval)' })
      .option('size', { type: 'number', default: 128, describe: 'image size (power of two)' })
      .option('batch', { type: 'number', default: 1, describe: 'images per onnxruntime run (1 costs the least CPU per image)' }) as unknown as Argv<AblateArgs>,
  handler: async (args) => {
    await selectBackend(args.backend === 'onnx' ? 'auto' : args.backend);
    const reporter = createReporter(args);
    const out = args.out ?? 'outputs/ablate';
    try {
      const run = await runAblate(
        { model: args.model, architecture: args.architecture, layers: splitList(args.layers) ?? [], source: { kind: 'phantoms', n: args.n }, size: args.size, seed: args.seed ?? 12345, undersampling: undersamplingOf(args), out, batch: args.batch, threads: args.threads },
        (e) => reporter.onEvent(e),
      );
      reporter.stop();
      if (args.json) {
        process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      for (const l of run.layers) {
        const fmt = (f: number) => `#${f} ${l.importance[f]!.dPsnr.toFixed(3)} dB`;
        const harmless = l.importance.filter((f) => f.dPsnr > -0.01).length;
        lines.push(
          `${l.layer}: ${l.filters} filters on ${l.images} phantoms, baseline ${l.baseline.psnr.toFixed(2)} dB / SSIM ${l.baseline.ssim.toFixed(4)}, ${(l.wallTimeMs / 1000).toFixed(0)} s`,
          `  most important: ${l.order.slice(0, 5).map(fmt).join(', ')}`,
          `  least important: ${l.order.slice(-5).map(fmt).join(', ')}`,
          `  ${harmless} filters cost less than 0.01 dB each`,
        );
      }
      process.stdout.write(`${[...lines, `wrote ${run.files.length} files to ${out}`, `report: ${path.join(out, 'index.html')}`, ''].join('\n')}`);
    } finally {
      reporter.stop();
    }
  },
};
