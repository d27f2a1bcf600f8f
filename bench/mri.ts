/**
 * `npx tsx bench/mri.ts [--steps=N] [--images=LIST]`: the numbers of BENCHMARKS.md's "Real MR" section.
 *
 * - Training images/s on real slices vs phantoms at the same crop (batch 8 of 64x64 crops of 128x128
 *   images, the seed U-Net, the ONNX trainer on 1 thread): each step's time includes making its batch,
 *   so the difference is the data pipeline (reading a slice, windowing, warping, undersampling).
 * - `eval --images` over the real MR slices listed in LIST (one input spec per line; default
 *   models/unet-mri/eval-real-mr.txt, paths relative to the repository) with the builtin model.
 *
 * Needs Debian's mricron-data for the real slices (/usr/share/mricron/templates/ch2better.nii.gz).
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { selectBackend } from '../src/engine/backend.js';
import { loadModel } from '../src/model/load.js';
import { withInputSize } from '../src/model/resize.js';
import { buildUNet } from '../src/model/unet.js';
import { openTrainingData, parseDataSpec } from '../src/train/data.js';
import { evaluateImages } from '../src/train/evaluate.js';
import { OnnxTrainer } from '../src/train/onnx-trainer.js';

const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const steps = Number(flag('steps') ?? 8);
const list = flag('images') ?? 'models/unet-mri/eval-real-mr.txt';
const COLIN = '/usr/share/mricron/templates/ch2better.nii.gz';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = { acceleration: 4, center: 0.08, pattern: 'random' as const, axis: 'x' as const };

await selectBackend('wasm');
const result: Record<string, unknown> = { cores: os.availableParallelism(), load: os.loadavg().map((x) => Number(x.toFixed(1))) };
if (!existsSync(COLIN)) {
  process.stderr.write(`bench/mri: ${COLIN} is absent (apt-get install mricron-data); training data section skipped\n`);
} else {
  const trainer = await OnnxTrainer.create(buildUNet({ size: null, seed: 1 }), { loss: 'l1', lr: 1e-4, threads: 1 });
  const training: Record<string, unknown> = {};
  for (const spec of ['phantoms', `nifti:${COLIN}`]) {
    const t0 = performance.now();
    const data = await openTrainingData(parseDataSpec(spec), { size: 128, crop: 64, seed: 1, undersampling: us });
    const openMs = performance.now() - t0;
    const batchMs: number[] = [];
    const stepMs: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t = performance.now();
      const b = data.trainBatch(s * 8, 8);
      batchMs.push(performance.now() - t);
      await trainer.step({ data: b.inputs, n: 8, height: 64, width: 64 }, b.targets.map((v, k) => v - b.inputs[k]!));
      stepMs.push(performance.now() - t);
    }
    // The first step of a session warms it up: medians of the rest.
    const step = median(stepMs.slice(1));
    training[spec.startsWith('nifti') ? 'realSlices' : 'phantoms'] = { openMs: Math.round(openMs), batchMs: Math.round(median(batchMs.slice(1))), stepMs: Math.round(step), imagesPerSecond: Number(((8 * 1000) / step).toFixed(2)) };
  }
  await trainer.dispose();
  result.training = training;
}
if (existsSync(list)) {
  const files = readFileSync(list, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const t0 = performance.now();
  const loaded = await loadModel('builtin');
  const model = await withInputSize(loaded.model, 128, 128);
  const report = await evaluateImages(model, files, { size: 128, seed: 12345, residual: loaded.residual, ...us });
  result.evalImages = { images: report.n, failed: report.failed.length, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)), gainDb: Number(report.gain.psnr.toFixed(2)) };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
