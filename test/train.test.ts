import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { learningRate, trainUNet, type TrainOptions } from '../src/train/train.js';
import { loadLayersModelFromFile } from '../src/model/tfjs-files.js';
import { makeExample } from '../src/train/dataset.js';
import { psnr } from '../src/mri/index.js';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

const options = (out: string, steps: number, resume = false): TrainOptions => ({
  out,
  steps,
  batch: 2,
  size: 32,
  crop: 16,
  acceleration: 4,
  center: 0.08,
  pattern: 'random',
  axis: 'x',
  lr: 1e-3,
  loss: 'l1',
  seed: 3,
  resume,
  checkpointEvery: 2,
  validateEvery: 2,
  validationSize: 2,
  float16: false,
  residual: true,
});

describe('training', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('makes (aliased input, phantom target) pairs: the input is the zero-filled reconstruction', () => {
    const ex = makeExample(32, 1, 'train', 0, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    expect(ex.input).toHaveLength(32 * 32);
    const p = psnr(ex.target, ex.input, 1);
    expect(p).toBeGreaterThan(10);
    expect(p).toBeLessThan(40);
    expect(makeExample(32, 1, 'train', 0, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' }).input).toEqual(ex.input);
  });

  it('trains on onnxruntime by default: a model, a JSON-lines log and example images are written', async () => {
    const out = tempDir();
    const result = await trainUNet({ ...options(out, 6), lr: 3e-3 });
    expect(result.engine).toBe('onnx');
    const entries = readFileSync(path.join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const log = entries.filter((l) => 'loss' in l);
    expect(log.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The run ends by recalibrating BatchNorm and logs the validation PSNR after it.
    expect(entries[entries.length - 1]).toMatchObject({ step: 6, recalibratedBatchNorm: true });
    // Residual runs start from a zeroed last layer: step 0 reconstructs exactly the zero-filled input.
    expect(log.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(log[1].valPsnr).toBeTypeOf('number');
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    const model = await loadLayersModelFromFile(path.join(out, 'model.json'));
    expect(model.countParams()).toBe(2881217);
    // target / zero-filled / network rows for up to 4 validation images (2 here, 32x32 each)
    const { default: sharp } = await import('sharp');
    const meta = await sharp(path.join(out, 'val-examples.png')).metadata();
    expect([meta.width, meta.height]).toEqual([2 * 32, 3 * 32]);
  });

  it('a checkpoint written by the tfjs trainer resumes on the ONNX one (same Adam state names)', async () => {
    const out = tempDir();
    const first = await trainUNet({ ...options(out, 2), engine: 'tfjs', validateEvery: 100 });
    expect(first.engine).toBe('tfjs');
    const tfjsNames = JSON.parse(readFileSync(path.join(out, 'checkpoint-0000002', 'optimizer.json'), 'utf8')) as { name: string }[];
    const second = await trainUNet({ ...options(out, 4, true), engine: 'onnx', validateEvery: 100 });
    expect(second.engine).toBe('onnx');
    const optimizer = JSON.parse(readFileSync(path.join(out, 'checkpoint-0000004', 'optimizer.json'), 'utf8')) as { name: string }[];
    // The same entries in the same order; tfjs suffixes names per model built in a process (kernel_2).
    const base = (name: string) => name.replace(/_\d+(?=\/[mv]$)/, '');
    expect(optimizer.map((e) => base(e.name))).toEqual(tfjsNames.map((e) => base(e.name)));
    expect(optimizer.map((e) => base(e.name))).toContain('dconv64/kernel/m');
  });

  it('a resumed run ends with the same weights as an uninterrupted one', async () => {
    const straight = tempDir();
    await trainUNet(options(straight, 4));
    const interrupted = tempDir();
    await trainUNet(options(interrupted, 2));
    await trainUNet(options(interrupted, 4, true));
    const a = await loadLayersModelFromFile(path.join(straight, 'model.json'));
    const b = await loadLayersModelFromFile(path.join(interrupted, 'model.json'));
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    let maxDiff = 0;
    wa.forEach((w, i) => w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - wb[i]![j]!)))));
    expect(maxDiff).toBeLessThan(1e-6);
    const log = (dir: string) => readFileSync(path.join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l);
    expect(log(interrupted).map((l) => l.step)).toEqual([1, 2, 3, 4]);
    // The first resumed step runs on exactly the checkpointed weights: its loss is bit-identical.
    expect(log(interrupted)[2].loss).toBe(log(straight)[2].loss);
    expect(Math.abs(log(interrupted)[3].loss - log(straight)[3].loss)).toBeLessThan(1e-4);
  });

  it('cosine schedule: lr at the first step, lr/20 at the last, halfway between at the middle; constant stays', () => {
    const o = { lr: 1e-3, steps: 101, schedule: 'cosine' as const };
    expect(learningRate(o, 1)).toBeCloseTo(1e-3, 12);
    expect(learningRate(o, 101)).toBeCloseTo(5e-5, 12);
    expect(learningRate(o, 51)).toBeCloseTo((1e-3 + 5e-5) / 2, 12);
    for (let s = 2; s <= 101; s++) expect(learningRate(o, s)).toBeLessThan(learningRate(o, s - 1));
    expect(learningRate({ ...o, schedule: 'constant' }, 77)).toBe(1e-3);
  });

  it('refuses bad settings with one line and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--acceleration', '0.5'], /Expected a number >= 1 for --acceleration but received 0.5/],
      [['--center', '1.5'], /Expected a fraction in \[0, 1\] for --center but received 1.5/],
      [['--size', '100'], /Expected a power of two >= 16 .* for --size but received 100/],
      [['--resume'], /--resume: no checkpoint in .* \(expected checkpoint.json/],
    ];
    for (const [flags, message] of cases) {
      const { result, stderr } = await captureOutput(() => main(['train', '--out', tempDir(), '--steps', '1', '--backend', 'wasm', ...flags]));
      expect(result, flags.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses to overwrite an earlier run without --resume', async () => {
    const out = tempDir();
    await trainUNet(options(out, 2));
    expect(existsSync(path.join(out, 'checkpoint.json'))).toBe(true);
    await expect(trainUNet(options(out, 2))).rejects.toThrow(/already holds a training run; pass --resume/);
  });

  it('eval --json reports zero-filled and network quality and their gain', async () => {
    const { result, stdout } = await captureOutput(() => main(['eval', '--n', '3', '--size', '32', '--json', '--backend', 'wasm']));
    expect(result).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.n).toBe(3);
    expect(report.zeroFilled.psnr).toBeGreaterThan(10);
    expect(report.gain.psnr).toBeCloseTo(report.network.psnr - report.zeroFilled.psnr, 10);
    expect(report.gain.ssim).toBeCloseTo(report.network.ssim - report.zeroFilled.ssim, 10);
  });

  it('eval --images undersamples the user\'s own images, says how they were fitted, and reports a bad one', async () => {
    const dir = tempDir();
    const { createImage } = await import('../src/io/image.js');
    const { writeImage } = await import('../src/io/write.js');
    const { sheppLogan } = await import('../src/mri/index.js');
    await writeImage(createImage(48, 48, 1, sheppLogan(48).map((v) => v * 255), { format: 'png', dtype: 'uint8', bitDepth: 8 }), path.join(dir, 'a.png'));
    const { result, stdout } = await captureOutput(() => main(['eval', '--images', path.join(dir, 'a.png'), path.join(dir, 'nope.dcm'), '--size', '32', '--json', '--backend', 'wasm']));
    expect(result).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.n).toBe(1);
    expect(report.images[0].note).toBe('resized from 48x48 to 32x32');
    expect(report.images[0].zeroFilled.psnr).toBeGreaterThan(10);
    expect(report.failed[0].input).toBe(path.join(dir, 'nope.dcm'));
  });
});

describe('BatchNorm recalibration', () => {
  it('makes inference on the calibration batch equal training-mode output (exact batch statistics)', async () => {
    await selectBackend('wasm');
    const { buildUNet } = await import('../src/model/unet.js');
    const { recalibrateBatchNorm } = await import('../src/train/batchnorm.js');
    const { tf } = await import('../src/tf.js');
    const model = buildUNet({ size: null, seed: 5 });
    const x = tf.randomUniform([6, 16, 16, 1], 0, 1, 'float32', 4) as import('@tensorflow/tfjs').Tensor4D;
    const training = (model.apply(x, { training: true }) as import('@tensorflow/tfjs').Tensor).dataSync();
    const before = (model.predict(x) as import('@tensorflow/tfjs').Tensor).dataSync();
    const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
    expect(diff(before, training)).toBeGreaterThan(1e-2);
    const reports = recalibrateBatchNorm(model, x, 4);
    expect(reports.map((r) => r.layer)).toEqual(['conv64_1', 'conv128_1', 'conv256_1', 'conv512_2', 'conv128_2', 'conv64_2', 'conv64_3']);
    const after = (model.predict(x) as import('@tensorflow/tfjs').Tensor).dataSync();
    expect(diff(after, training)).toBeLessThan(1e-3 * Math.max(...Array.from(training, Math.abs)));
  });
});
