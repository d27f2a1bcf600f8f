/** `unet-dream eval`: PSNR/SSIM of zero-filled input vs the network on held-out phantoms. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { loadModel } from '../../model/load.js';
import { withInputSize } from '../../model/resize.js';
import { evaluateImages, evaluatePhantoms, type EvalReport, type ImageEval } from '../../train/evaluate.js';
import { validateUndersampling } from '../../train/train.js';
import { writeEvalImages, type EvalImageFiles } from '../../train/eval-images.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { invalidParameterError } from '../../errors.js';
import { undersamplingOf, withBackendOption, withModelSourceOptions, withOutputOptions, withSeedOption, withUndersamplingOptions, type CommonArgs, type UndersamplingArgs } from '../options.js';
import { outcome } from '../outcome.js';

interface EvalArgs extends CommonArgs, UndersamplingArgs {
  images?: string[];
  out?: string;
  dataConsistency: boolean;
  n: number;
  size: number;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'PSNR and SSIM of zero-filled input and of the network on held-out undersampled phantoms',
  builder: (yargs: Argv) =>
    withUndersamplingOptions(withOutputOptions(withSeedOption(withBackendOption(withModelSourceOptions(yargs)))))
      .option('images', { type: 'string', array: true, describe: 'evaluate retrospective undersampling of these images instead of phantoms' })
      .option('out', { type: 'string', describe: 'with --images: write each scored image (target, zero-filled, network, difference PNGs and a float32 .npy) and eval.json here' })
      .option('data-consistency', { type: 'boolean', default: false, describe: "also score the network's output with the measured k-space lines put back (the network alone is always scored)" })
      .option('n', { type: 'number', default: 200, describe: 'held-out phantoms' })
      .option('size', { type: 'number', default: 128, describe: 'image size (power of two)' })
      .example('$0 eval --n 50', 'PSNR/SSIM of the builtin U-Net on 50 held-out phantoms')
      .example('$0 eval --images scan.dcm photo.png --json', 'retrospective undersampling of your own images, per-image scores as JSON')
      .example('$0 eval --images scan.dcm --out eval-scan', 'the same, and the images it scored, to look at next to the numbers') as unknown as Argv<EvalArgs>,
  handler: async (args) => {
    const us = undersamplingOf(args);
    validateUndersampling({ ...us, size: args.size });
    if (!Number.isInteger(args.n) || args.n < 1) throw invalidParameterError('--n', 'an integer >= 1', args.n);
    if (args.out !== undefined && !args.images?.length) throw invalidParameterError('--out', 'used with --images (phantom scores need no files)', args.out);
    await selectBackend(args.backend === 'onnx' ? 'auto' : args.backend);
    const loaded = await loadModel(args.model, { architecture: args.architecture });
    const model = await withInputSize(loaded.model, args.size, args.size);
    let report: EvalReport & { images?: (ImageEval & { files?: EvalImageFiles })[]; failed?: { input: string; error: string }[] };
    if (args.images?.length) {
      const { scored, ...scores } = await evaluateImages(model, args.images, { size: args.size, seed: args.seed ?? 12345, residual: loaded.residual, dataConsistency: args.dataConsistency, ...us });
      report = scores;
      if (args.out !== undefined) {
        const files = await writeEvalImages(args.out, scored);
        report.images = scores.images.map((image, i) => ({ ...image, files: files[i]! }));
      }
    } else {
      report = evaluatePhantoms(model, { n: args.n, size: args.size, seed: args.seed ?? 12345, residual: loaded.residual, dataConsistency: args.dataConsistency, ...us });
    }
    const out = { model: loaded.id, ...report };
    if (args.out !== undefined) await writeFileAtomic(path.join(args.out, 'eval.json'), `${JSON.stringify(out, null, 2)}\n`);
    if (report.failed?.length) outcome.exitCode = 1;
    if (args.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const row = (name: string, q: { psnr: number; ssim: number }) => `${name.padEnd(12)} PSNR ${q.psnr.toFixed(2).padStart(6)} dB   SSIM ${q.ssim.toFixed(4)}`;
    process.stdout.write(
      [
        `${report.n} ${args.images?.length ? 'images' : 'held-out phantoms'}, ${report.size}x${report.size}, R=${report.acceleration} (${loaded.id})`,
        ...(report.images ?? []).map((i) => `  ${i.input}: ${i.note}; PSNR ${i.zeroFilled.psnr.toFixed(2)} -> ${i.network.psnr.toFixed(2)} dB`),
        ...(report.failed ?? []).map((f) => `  ERROR ${f.error}`),
        row('zero-filled', report.zeroFilled),
        row('network', report.network),
        row('gain', report.gain),
        ...(report.dataConsistent ? [row('network+DC', report.dataConsistent), row('gain+DC', report.dataConsistentGain!)] : []),
        ...(args.out !== undefined ? [`images and eval.json in ${args.out}`] : []),
        '',
      ].join('\n'),
    );
  },
};
