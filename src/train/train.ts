/**
 * Trains the seed's U-Net to remove aliasing: Adam on (zero-filled, fully sampled) phantom pairs,
 * a fixed validation set, checkpoints every K steps, resume, and a JSON-lines log.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { tf, type LayersModel } from '../engine/tf.js';
import { UsageError, invalidParameterError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { isPowerOfTwo, type MaskAxis, type MaskPattern } from '../mri/index.js';
import { buildUNet } from '../model/unet.js';
import { loadLayersModelFromFile, saveLayersModel } from '../model/tfjs-files.js';
import type { EventSink } from '../pipeline/events.js';
import { makeBatch, makeCropBatch } from './dataset.js';
import { predictImages, scorePairs, type QualityPair } from './evaluate.js';
import sharp from 'sharp';
import { recalibrateBatchNorm } from './batchnorm.js';

export interface TrainOptions {
  out: string;
  steps: number;
  batch: number;
  /** Simulated image size (the acquisition the aliasing comes from); validation runs at this size. */
  size: number;
  /** Training patch size cut from each simulated image (<= size); smaller is faster per step. */
  crop: number;
  acceleration: number;
  center: number;
  pattern: MaskPattern;
  axis: MaskAxis;
  lr: number;
  loss: 'l1' | 'mse';
  seed: number;
  resume: boolean;
  checkpointEvery: number;
  validateEvery: number;
  validationSize: number;
  /** Store final weights as float16 (half the size; widened to float32 on load). */
  float16: boolean;
  /**
   * Residual learning: the network learns the aliasing (target - input) and the reconstruction is
   * input + output. The architecture is unchanged; it starts at zero-filled quality instead of below it.
   */
  residual: boolean;
}

export interface TrainResult {
  steps: number;
  wallTimeMs: number;
  imagesPerSecond: number;
  finalLoss: number;
  validation: { zeroFilled: QualityPair; network: QualityPair };
  modelDir: string;
}

interface CheckpointState {
  step: number;
  dir: string;
  options: Omit<TrainOptions, 'resume' | 'out' | 'steps'>;
  elapsedMs: number;
}

/** The undersampling settings train and eval share: checked before any work. */
export function validateUndersampling(o: { acceleration: number; center: number; size: number }): void {
  if (!(o.acceleration >= 1)) throw invalidParameterError('--acceleration', 'a number >= 1', o.acceleration);
  if (!(o.center >= 0 && o.center <= 1)) throw invalidParameterError('--center', 'a fraction in [0, 1]', o.center);
  if (!Number.isInteger(o.size) || !isPowerOfTwo(o.size) || o.size < 16) {
    throw invalidParameterError('--size', 'a power of two >= 16 (the FFT needs powers of two; the U-Net needs multiples of 8)', o.size);
  }
}

export function validateTrainOptions(o: TrainOptions): void {
  validateUndersampling(o);
  if (!Number.isInteger(o.crop) || o.crop % 8 !== 0 || o.crop < 16 || o.crop > o.size) {
    throw invalidParameterError('--crop', `a multiple of 8 between 16 and --size (${o.size})`, o.crop);
  }
  for (const [name, v] of [['--steps', o.steps], ['--batch', o.batch], ['--checkpoint-every', o.checkpointEvery], ['--validate-every', o.validateEvery], ['--validation-size', o.validationSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw invalidParameterError(name, 'an integer >= 1', v);
  }
  if (!(o.lr > 0)) throw invalidParameterError('--lr', 'a positive number', o.lr);
  if (o.loss !== 'l1' && o.loss !== 'mse') throw invalidParameterError('--loss', 'l1 or mse', o.loss);
}

const STATE_FILE = 'checkpoint.json';

async function saveCheckpoint(model: LayersModel, out: string, step: number, options: TrainOptions, elapsedMs: number): Promise<void> {
  const dir = `checkpoint-${String(step).padStart(7, '0')}`;
  await saveLayersModel(model, path.join(out, dir));
  // Adam's moments as one float32 blob plus a JSON index: JSON numbers would be ~20x larger and slower.
  const optimizerWeights = await model.optimizer.getWeights();
  const datas = await Promise.all(optimizerWeights.map((w) => w.tensor.data() as Promise<Float32Array>));
  const blob = new Float32Array(datas.reduce((n, d) => n + d.length, 0));
  let offset = 0;
  const index = optimizerWeights.map((w, i) => {
    blob.set(datas[i]!, offset);
    const entry = { name: w.name, shape: w.tensor.shape, offset, length: datas[i]!.length };
    offset += datas[i]!.length;
    return entry;
  });
  await writeFileAtomic(path.join(out, dir, 'optimizer.bin'), new Uint8Array(blob.buffer));
  await writeFileAtomic(path.join(out, dir, 'optimizer.json'), JSON.stringify(index));
  const { resume: _r, out: _o, steps: _s, ...rest } = options;
  const previous = await readState(out);
  // The state file is written last: a run killed mid-checkpoint resumes from the previous one.
  await writeFileAtomic(path.join(out, STATE_FILE), JSON.stringify({ step, dir, options: rest, elapsedMs } satisfies CheckpointState));
  if (previous && previous.dir !== dir) await fs.rm(path.join(out, previous.dir), { recursive: true, force: true });
}

async function readState(out: string): Promise<CheckpointState | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(out, STATE_FILE), 'utf8')) as CheckpointState;
  } catch {
    return undefined;
  }
}

async function restoreOptimizer(model: LayersModel, dir: string): Promise<void> {
  const index = JSON.parse(await fs.readFile(path.join(dir, 'optimizer.json'), 'utf8')) as { name: string; shape: number[]; offset: number; length: number }[];
  const bytes = await fs.readFile(path.join(dir, 'optimizer.bin'));
  const blob = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  await model.optimizer.setWeights(index.map((e) => ({ name: e.name, tensor: tf.tensor(blob.subarray(e.offset, e.offset + e.length), e.shape) })));
  // setWeights recomputes Adam's bias-correction powers as beta^(t+1); an uninterrupted run multiplies
  // them up one float32 product per step. Redo that product so a resumed run continues bit for bit.
  const adam = model.optimizer as unknown as { iterations: number; beta1: number; beta2: number; accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (adam.accBeta1 && adam.accBeta2) {
    let acc1 = Math.fround(adam.beta1);
    let acc2 = Math.fround(adam.beta2);
    for (let i = 0; i < adam.iterations; i++) {
      acc1 = Math.fround(acc1 * Math.fround(adam.beta1));
      acc2 = Math.fround(acc2 * Math.fround(adam.beta2));
    }
    adam.accBeta1.assign(tf.scalar(acc1));
    adam.accBeta2.assign(tf.scalar(acc2));
  }
}

function compile(model: LayersModel, options: TrainOptions): void {
  model.compile({ optimizer: tf.train.adam(options.lr), loss: options.loss === 'l1' ? 'meanAbsoluteError' : 'meanSquaredError' });
}

export async function trainUNet(options: TrainOptions, onEvent: EventSink = () => undefined): Promise<TrainResult> {
  validateTrainOptions(options);
  const logFile = path.join(options.out, 'train-log.jsonl');
  let model: LayersModel;
  let startStep = 0;
  let elapsedBefore = 0;
  if (options.resume) {
    const state = await readState(options.out);
    if (!state || !existsSync(path.join(options.out, state.dir, 'model.json'))) {
      throw new UsageError(`--resume: no checkpoint in ${options.out} (expected ${STATE_FILE} written by an earlier train run)`);
    }
    model = await loadLayersModelFromFile(path.join(options.out, state.dir, 'model.json'));
    compile(model, options);
    await restoreOptimizer(model, path.join(options.out, state.dir));
    startStep = state.step;
    elapsedBefore = state.elapsedMs;
    // Drop log lines past the checkpoint: those steps run again.
    if (existsSync(logFile)) {
      // (and the end-of-run recalibration record of the run being continued)
      const kept = (await fs.readFile(logFile, 'utf8')).split('\n').filter((l) => {
        if (!l) return false;
        const entry = JSON.parse(l) as { step: number; recalibratedBatchNorm?: boolean };
        return entry.step <= startStep && !entry.recalibratedBatchNorm;
      });
      await writeFileAtomic(logFile, kept.map((l) => `${l}\n`).join(''));
    }
    onEvent({ type: 'info', message: `resuming from step ${startStep} (${state.dir})` });
  } else {
    await fs.mkdir(options.out, { recursive: true });
    if (existsSync(path.join(options.out, STATE_FILE))) {
      throw new UsageError(`${options.out} already holds a training run; pass --resume to continue it or choose another --out`);
    }
    await fs.rm(logFile, { force: true });
    model = buildUNet({ size: null, seed: options.seed });
    compile(model, options);
  }

  const us = { acceleration: options.acceleration, center: options.center, pattern: options.pattern, axis: options.axis };
  const val = makeBatch(options.size, options.seed, 'val', 0, options.validationSize, us);
  const valPairs = { inputs: val.inputs, targets: val.targets, n: val.n, height: options.size, width: options.size };
  const started = performance.now();
  let lastLoss = NaN;
  let lastVal = scorePairs(model, valPairs, options.residual);

  for (let step = startStep + 1; step <= options.steps; step++) {
    const batch = makeCropBatch(options.size, options.crop, options.seed, (step - 1) * options.batch, options.batch, us);
    const x = tf.tensor4d(batch.inputs, [batch.n, batch.size, batch.size, 1]);
    const targets = options.residual ? batch.targets.map((t, k) => t - batch.inputs[k]!) : batch.targets;
    const y = tf.tensor4d(targets, [batch.n, batch.size, batch.size, 1]);
    const loss = (await model.trainOnBatch(x, y)) as number;
    x.dispose();
    y.dispose();
    if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step} (loss ${loss}); try a smaller --lr`);
    lastLoss = loss;
    const record: Record<string, number> = { step, loss, elapsedMs: Math.round(elapsedBefore + performance.now() - started) };
    if (step % options.validateEvery === 0 || step === options.steps) {
      lastVal = scorePairs(model, valPairs, options.residual);
      record.valPsnr = lastVal.network.psnr;
      record.valSsim = lastVal.network.ssim;
      record.zeroFilledPsnr = lastVal.zeroFilled.psnr;
    }
    await fs.appendFile(logFile, `${JSON.stringify(record)}\n`);
    if (step % options.checkpointEvery === 0 && step !== options.steps) {
      await saveCheckpoint(model, options.out, step, options, record.elapsedMs!);
    }
    onEvent({ type: 'progress', done: step, total: options.steps, label: `loss ${loss.toFixed(4)}  val PSNR ${lastVal.network.psnr.toFixed(2)} dB (zero-filled ${lastVal.zeroFilled.psnr.toFixed(2)})` });
  }

  // Replace the lagging moving averages with exact statistics over 64 training crops (see batchnorm.ts).
  const calibration = makeCropBatch(options.size, options.crop, options.seed, 1e9, 64, us);
  const calibrationInputs = tf.tensor4d(calibration.inputs, [calibration.n, calibration.size, calibration.size, 1]);
  const recalibrated = recalibrateBatchNorm(model, calibrationInputs);
  calibrationInputs.dispose();
  const beforeRecalibration = lastVal;
  lastVal = scorePairs(model, valPairs, options.residual);
  onEvent({ type: 'info', message: `BatchNorm recalibrated on 64 crops (${recalibrated.length} layers): validation PSNR ${beforeRecalibration.network.psnr.toFixed(2)} -> ${lastVal.network.psnr.toFixed(2)} dB` });
  await fs.appendFile(logFile, `${JSON.stringify({ step: options.steps, recalibratedBatchNorm: true, valPsnr: lastVal.network.psnr, valSsim: lastVal.network.ssim, zeroFilledPsnr: lastVal.zeroFilled.psnr })}\n`);

  await writeExamplesSheet(model, valPairs, options.residual, path.join(options.out, 'val-examples.png'));

  const wallTimeMs = Math.round(elapsedBefore + performance.now() - started);
  const doneSteps = options.steps - startStep;
  await saveLayersModel(model, options.out, {
    quantize: options.float16 ? 'float16' : undefined,
    metadata: { unetDream: { steps: options.steps, seed: options.seed, size: options.size, crop: options.crop, residual: options.residual, acceleration: options.acceleration, center: options.center, loss: options.loss, lr: options.lr, batch: options.batch } },
  });
  await saveCheckpoint(model, options.out, options.steps, options, wallTimeMs);
  return {
    steps: options.steps,
    wallTimeMs,
    imagesPerSecond: (doneSteps * options.batch) / ((performance.now() - started) / 1000),
    finalLoss: lastLoss,
    validation: { zeroFilled: lastVal.zeroFilled, network: lastVal.network },
    modelDir: options.out,
  };
}

/** Four validation images in three rows: fully sampled target, zero-filled input, network output. */
async function writeExamplesSheet(model: LayersModel, pairs: { inputs: Float32Array; targets: Float32Array; n: number; height: number; width: number }, residual: boolean, file: string): Promise<void> {
  const n = Math.min(4, pairs.n);
  const { height: h, width: w } = pairs;
  const outputs = predictImages(model, pairs.inputs.subarray(0, n * h * w), n, h, w, residual);
  const rows = [pairs.targets, pairs.inputs, outputs];
  const canvas = new Uint8Array(n * w * 3 * h);
  rows.forEach((row, r) => {
    for (let k = 0; k < n; k++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) canvas[(r * h + y) * n * w + k * w + x] = Math.max(0, Math.min(255, Math.round(row[(k * h + y) * w + x]! * 255)));
      }
    }
  });
  const png = await sharp(canvas, { raw: { width: n * w, height: 3 * h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  await writeFileAtomic(file, png);
}
