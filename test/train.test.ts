import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf, type LayersModel } from '../src/tf.js';
import { InputError, UsageError } from '../src/errors.js';
import { learningRate, trainUNet, zeroFinalLayer, type TrainOptions } from '../src/train/train.js';
import { predictImages } from '../src/train/evaluate.js';
import { loadLayersModelFromFile } from '../src/model/tfjs-files.js';
import { makeExample } from '../src/train/dataset.js';
import { psnr } from '../src/mri/index.js';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

/**
 * An image-to-image network small enough to train in well under a second: conv(relu) -> BatchNorm ->
 * conv, 93 weights. Every layer kind the ONNX trainer trains, so both trainers run it.
 */
function tinyNet(seed = 1, outChannels = 1): LayersModel {
  const input = tf.input({ shape: [null, null, 1] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'ta', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'tbn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: outChannels, kernelSize: 3, padding: 'same', name: 'tout', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), biasInitializer: tf.initializers.constant({ value: 0.1 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}
const TINY_PARAMS = 4 * 9 + 4 + 4 * 4 + 4 * 9 + 1;

const options = (out: string, steps: number, resume = false, model: LayersModel | undefined = resume ? undefined : tinyNet()): TrainOptions => ({
  out,
  steps,
  batch: 2,
  size: 32,
  crop: 16,
  acceleration: 4,
  center: 0.08,
  pattern: 'random',
  axis: 'x',
  lr: 1e-2,
  loss: 'l1',
  seed: 3,
  resume,
  checkpointEvery: 2,
  validateEvery: 2,
  validationSize: 2,
  float16: false,
  residual: true,
  model,
});

const readLog = (dir: string) => readFileSync(path.join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

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
    const result = await trainUNet(options(out, 6));
    expect(result.engine).toBe('onnx');
    const entries = readLog(out);
    const log = entries.filter((l) => 'loss' in l);
    expect(log.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.every((l) => Number.isFinite(l.loss))).toBe(true);
    // The run ends by recalibrating BatchNorm and logs the validation PSNR after it.
    expect(entries[entries.length - 1]).toMatchObject({ step: 6, recalibratedBatchNorm: true });
    expect(log[1].valPsnr).toBeTypeOf('number');
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    // Training moved the network away from the identity it started at.
    expect(result.validation.network.psnr).not.toBeCloseTo(result.validation.zeroFilled.psnr, 3);
    const model = await loadLayersModelFromFile(path.join(out, 'model.json'));
    expect(model.countParams()).toBe(TINY_PARAMS);
    // target / zero-filled / network rows for up to 4 validation images (2 here, 32x32 each)
    const { default: sharp } = await import('sharp');
    const meta = await sharp(path.join(out, 'val-examples.png')).metadata();
    expect([meta.width, meta.height]).toEqual([2 * 32, 3 * 32]);
  });

  it('step 0 of a residual run reconstructs exactly the zero-filled input (last layer zeroed)', async () => {
    // Directly: a residual network with a zeroed last layer outputs its input.
    const model = tinyNet(9);
    const x = Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => Math.sin(i) * 0.5 + 0.5);
    expect(Math.max(...predictImages(model, x, 2, 16, 16, true).map((v, i) => Math.abs(v - x[i]!)))).toBeGreaterThan(1e-2);
    zeroFinalLayer(model);
    expect(Math.max(...predictImages(model, x, 2, 16, 16, true).map((v, i) => Math.abs(v - x[i]!)))).toBeLessThan(1e-7);
    // Through a run: the step-0 validation scores the network exactly as the zero-filled input.
    const residual = tempDir();
    await trainUNet(options(residual, 1));
    const step0 = readLog(residual)[0];
    expect(step0.step).toBe(0);
    expect(step0.valPsnr).toBeCloseTo(step0.zeroFilledPsnr, 9);
    expect(step0.valSsim).toBeGreaterThan(0);
    // A non-residual run starts from the random init: far from the zero-filled input.
    const direct = tempDir();
    await trainUNet({ ...options(direct, 1), residual: false });
    const d0 = readLog(direct)[0];
    expect(Math.abs(d0.valPsnr - d0.zeroFilledPsnr)).toBeGreaterThan(1);
  });

  it('trains the seed U-Net when no model is given', async () => {
    const out = tempDir();
    await trainUNet({ ...options(out, 1), model: undefined, validationSize: 1, checkpointEvery: 1 });
    const model = await loadLayersModelFromFile(path.join(out, 'model.json'));
    expect(model.countParams()).toBe(2881217);
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
    expect(optimizer.map((e) => base(e.name))).toContain('ta/kernel/m');
    expect(optimizer).toHaveLength(1 + 2 * 6);
  });

  for (const engine of ['onnx', 'tfjs'] as const) {
    it(`a resumed run ends with the same weights as an uninterrupted one (${engine})`, async () => {
      const straight = tempDir();
      await trainUNet({ ...options(straight, 4), engine });
      const interrupted = tempDir();
      await trainUNet({ ...options(interrupted, 2), engine });
      await trainUNet({ ...options(interrupted, 4, true), engine });
      const a = await loadLayersModelFromFile(path.join(straight, 'model.json'));
      const b = await loadLayersModelFromFile(path.join(interrupted, 'model.json'));
      const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
      const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
      let maxDiff = 0;
      let maxMoved = 0;
      const start = tinyNet();
      zeroFinalLayer(start);
      const init = start.getWeights().map((w) => Array.from(w.dataSync()));
      wa.forEach((w, i) => w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - wb[i]![j]!)))));
      wa.forEach((w, i) => w.forEach((v, j) => (maxMoved = Math.max(maxMoved, Math.abs(v - init[i]![j]!)))));
      expect(maxMoved).toBeGreaterThan(1e-3);
      expect(maxDiff).toBeLessThan(1e-6);
      const log = (dir: string) => readLog(dir).filter((l) => 'loss' in l);
      expect(log(interrupted).map((l) => l.step)).toEqual([1, 2, 3, 4]);
      // The first resumed step runs on exactly the checkpointed weights: its loss is bit-identical.
      expect(log(interrupted)[2].loss).toBe(log(straight)[2].loss);
      expect(Math.abs(log(interrupted)[3].loss - log(straight)[3].loss)).toBeLessThan(1e-6);
    });
  }

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
      [['--resume'], /resume: no checkpoint in .* \(expected checkpoint.json/],
    ];
    for (const [flags, message] of cases) {
      const { result, stderr } = await captureOutput(() => main(['train', '--out', tempDir(), '--steps', '1', '--backend', 'wasm', ...flags]));
      expect(result, flags.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses a model it cannot train, a model with resume, and a diverging run, each as a typed one-line error', async () => {
    const refused = async (o: TrainOptions, message: RegExp) => {
      const err = await trainUNet(o).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toMatch(/--/);
      expect((err as Error).message.split('\n')).toHaveLength(1);
    };
    await refused({ ...options(tempDir(), 1), model: tinyNet(1, 2) }, /as many output channels as input channels .* for model/);
    await refused({ ...options(tempDir(), 1, true), model: tinyNet() }, /^model and resume: /);
    // The model's own input sizes decide which crops work: a pooled-and-upsampled skip needs multiples of 2.
    const x = tf.input({ shape: [null, null, 1] });
    const up = tf.layers.upSampling2d({}).apply(tf.layers.maxPooling2d({}).apply(x)) as tf.SymbolicTensor;
    const skip = tf.model({ inputs: x, outputs: tf.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(tf.layers.add().apply([x, up])) as tf.SymbolicTensor });
    await refused({ ...options(tempDir(), 1), model: skip, crop: 17 }, /^crop: size 17 cannot be used with this model: .* \(try 18\)$/);
    // Adam moves each weight by about lr per step whatever the gradient: lr 1e30 overflows float32.
    await refused({ ...options(tempDir(), 5), lr: 1e30, validateEvery: 100, checkpointEvery: 100 }, /^training diverged at step \d \(loss (NaN|Infinity)\); try a smaller lr$/);
  });

  it('a checkpoint whose optimizer state does not fit the model is an input error naming the checkpoint', async () => {
    const out = tempDir();
    await trainUNet(options(out, 2));
    const dir = path.join(out, 'checkpoint-0000002');
    const index = JSON.parse(readFileSync(path.join(dir, 'optimizer.json'), 'utf8')) as unknown[];
    writeFileSync(path.join(dir, 'optimizer.json'), JSON.stringify(index.slice(0, -1)));
    for (const engine of ['onnx', 'tfjs'] as const) {
      const err = await trainUNet({ ...options(out, 4, true), engine }).catch((e: unknown) => e);
      expect(err, engine).toBeInstanceOf(InputError);
      expect((err as Error).message).toBe(`${dir}: optimizer state has 12 entries; this model needs 13 (iter, then m and v for 6 weights)`);
    }
    writeFileSync(path.join(dir, 'optimizer.json'), '{ not json');
    const err = await trainUNet(options(out, 4, true)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`${path.join(dir, 'optimizer.json')}: optimizer state is not valid JSON`);
  });

  it('refuses to overwrite an earlier run unless resumed', async () => {
    const out = tempDir();
    await trainUNet(options(out, 2));
    expect(existsSync(path.join(out, 'checkpoint.json'))).toBe(true);
    await expect(trainUNet(options(out, 2))).rejects.toThrow(/already holds a training run; set resume to continue it/);
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
    expect(report.images[0].note).toBe('48x48 shrunk to 32x32 and padded to 32x32');
    expect(report.images[0].zeroFilled.psnr).toBeGreaterThan(10);
    expect(report.failed[0].input).toBe(path.join(dir, 'nope.dcm'));
  });
});

describe('eval --images --out', () => {
  it('writes the images it scored: the PNGs decode, and the .npy holds the arrays the reported PSNR was computed on', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'eval-out');
    const { createImage } = await import('../src/io/image.js');
    const { writeImage } = await import('../src/io/write.js');
    const { readImage } = await import('../src/io/read.js');
    const { decodeNpy } = await import('../src/io/npy.js');
    const { sheppLogan } = await import('../src/mri/index.js');
    await writeImage(createImage(24, 20, 1, sheppLogan(24).subarray(0, 24 * 20).map((v) => v * 255), { format: 'png', dtype: 'uint8', bitDepth: 8 }), path.join(dir, 'a.png'));
    await writeImage(createImage(24, 20, 1, sheppLogan(24).subarray(24 * 4, 24 * 24).map((v) => v * 200), { format: 'png', dtype: 'uint8', bitDepth: 8 }), path.join(dir, 'a.jpg.png'));
    const { result, stdout } = await captureOutput(() => main(['eval', '--images', path.join(dir, 'a.png'), path.join(dir, 'a.jpg.png'), '--size', '32', '--json', '--backend', 'wasm', '--out', out, '--data-consistency']));
    expect(result).toBe(0);
    const report = JSON.parse(stdout);
    // Putting the measured lines back can only bring a non-negative target closer (Parseval, then |x| vs t >= 0).
    expect(report.dataConsistent.psnr).toBeGreaterThan(report.network.psnr);
    expect(report.dataConsistentGain.psnr).toBeCloseTo(report.dataConsistent.psnr - report.zeroFilled.psnr, 10);
    expect(JSON.parse(readFileSync(path.join(out, 'eval.json'), 'utf8'))).toEqual(report);
    expect(report.images).toHaveLength(2);
    const names = new Set<string>();
    for (const image of report.images) {
      for (const key of ['target', 'zeroFilled', 'network', 'difference'] as const) {
        const png = await readImage(path.join(out, image.files[key]));
        expect([png.width, png.height]).toEqual([32, 32]);
        names.add(image.files[key]);
      }
      const { data, shape } = decodeNpy(readFileSync(path.join(out, image.files.arrays)));
      expect(shape).toEqual([5, 32, 32]);
      const [target, zf, net, diff, dc] = [0, 1, 2, 3, 4].map((k) => data.subarray(k * 1024, (k + 1) * 1024));
      expect(psnr(target!, dc!, 1)).toBeCloseTo(image.dataConsistent.psnr, 4);
      expect((await readImage(path.join(out, image.files.dataConsistent))).width).toBe(32);
      expect(psnr(target!, zf!, 1)).toBeCloseTo(image.zeroFilled.psnr, 4);
      expect(psnr(target!, net!, 1)).toBeCloseTo(image.network.psnr, 4);
      expect(Math.max(...Array.from(diff!, (d, i) => Math.abs(d - (net![i]! - target![i]!))))).toBeLessThan(1e-6);
      // The 24x20 input sits padded, not stretched: the grid's border rows are zero in the target.
      expect(Math.max(...target!.subarray(0, 32 * 6))).toBe(0);
    }
    expect(names.size).toBe(8); // four PNGs per input, none shared
  });

  it('refuses --out without --images, before a model loads', async () => {
    const out = path.join(tempDir(), 'x');
    const { result, stderr } = await captureOutput(() => main(['eval', '--n', '2', '--out', out]));
    expect(result).toBe(2);
    expect(stderr).toMatch(/--out/);
    expect(existsSync(out)).toBe(false);
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
