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
import { withInputSize } from '../model/resize.js';
import { loadLayersModelFromFile, saveLayersModel } from '../model/tfjs-files.js';
import type { EventSink } from '../pipeline/events.js';
import { makeBatch, makeCropBatch } from './dataset.js';
import { predictImages, scorePairs, type QualityPair } from './evaluate.js';
import sharp from 'sharp';
import { recalibrateBatchNorm } from './batchnorm.js';
import { OnnxTrainer } from './onnx-trainer.js';
import { OnnxUnsupportedError } from '../engine/onnx/errors.js';

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
  /**
   * Who computes the steps: 'onnx' (onnxruntime runs forward, loss and weight gradients; Adam in JS),
   * 'tfjs' (model.trainOnBatch on the active tfjs backend), or 'auto' (onnx when the model's layers
   * compile, else tfjs). Default 'auto'. Validation, checkpoints and the saved model go through tfjs
   * either way, and a checkpoint from one resumes on the other.
   */
  engine?: 'auto' | 'onnx' | 'tfjs';
  /**
   * Learning rate over the run: 'constant', or 'cosine' from lr down to lr/20 at the last step (the
   * step count of this invocation, so resume with the same --steps to keep the schedule). Default constant.
   */
  schedule?: 'constant' | 'cosine';
  /** onnxruntime threads for the onnx engine (default 1: faster than 2 on the 2-core machine measured). */
  threads?: number;
  /** onnxruntime execution provider for the onnx engine (default cpu). */
  device?: 'cpu' | 'cuda';
  /** Start from this model (a tfjs model folder or model.json, e.g. a pruned one) instead of a fresh U-Net. */
  init?: string;
}

export interface TrainResult {
  steps: number;
  wallTimeMs: number;
  imagesPerSecond: number;
  finalLoss: number;
  validation: { zeroFilled: QualityPair; network: QualityPair };
  modelDir: string;
  engine: 'onnx' | 'tfjs';
}

interface CheckpointState {
  step: number;
  dir: string;
  options: Omit<TrainOptions, 'resume' | 'out' | 'steps' | 'engine' | 'threads' | 'device' | 'init'>;
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

interface OptimizerEntry {
  name: string;
  shape: number[];
  data: Float32Array;
}

async function tfjsOptimizerWeights(model: LayersModel): Promise<OptimizerEntry[]> {
  const weights = await model.optimizer.getWeights();
  return Promise.all(weights.map(async (w) => ({ name: w.name, shape: w.tensor.shape.slice(), data: (await w.tensor.data()) as Float32Array })));
}

async function saveCheckpoint(model: LayersModel, optimizerWeights: OptimizerEntry[], out: string, step: number, options: TrainOptions, elapsedMs: number): Promise<void> {
  const dir = `checkpoint-${String(step).padStart(7, '0')}`;
  await saveLayersModel(model, path.join(out, dir));
  // Adam's moments as one float32 blob plus a JSON index: JSON numbers would be ~20x larger and slower.
  const blob = new Float32Array(optimizerWeights.reduce((n, w) => n + w.data.length, 0));
  let offset = 0;
  const index = optimizerWeights.map((w) => {
    blob.set(w.data, offset);
    const entry = { name: w.name, shape: w.shape, offset, length: w.data.length };
    offset += w.data.length;
    return entry;
  });
  await writeFileAtomic(path.join(out, dir, 'optimizer.bin'), new Uint8Array(blob.buffer));
  await writeFileAtomic(path.join(out, dir, 'optimizer.json'), JSON.stringify(index));
  const { resume: _r, out: _o, steps: _s, engine: _e, threads: _t, device: _d, init: _i, ...rest } = options;
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

async function readOptimizer(dir: string): Promise<OptimizerEntry[]> {
  const index = JSON.parse(await fs.readFile(path.join(dir, 'optimizer.json'), 'utf8')) as { name: string; shape: number[]; offset: number; length: number }[];
  const bytes = await fs.readFile(path.join(dir, 'optimizer.bin'));
  const blob = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return index.map((e) => ({ name: e.name, shape: e.shape, data: blob.slice(e.offset, e.offset + e.length) }));
}

async function restoreOptimizer(model: LayersModel, entries: OptimizerEntry[]): Promise<void> {
  await model.optimizer.setWeights(entries.map((e) => ({ name: e.name, tensor: tf.tensor(e.data, e.shape) })));
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

/**
 * A residual network whose last layer starts at zero reconstructs exactly the zero-filled input at
 * step 0, instead of adding the random init's noise (which cost ~12 dB and hundreds of steps to undo).
 */
function zeroFinalLayer(model: LayersModel): void {
  const last = model.layers[model.layers.length - 1]!;
  last.setWeights(last.getWeights().map((w) => tf.zerosLike(w)));
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
  let resumedOptimizer: OptimizerEntry[] | undefined;
  if (options.resume) {
    const state = await readState(options.out);
    if (!state || !existsSync(path.join(options.out, state.dir, 'model.json'))) {
      throw new UsageError(`--resume: no checkpoint in ${options.out} (expected ${STATE_FILE} written by an earlier train run)`);
    }
    model = await loadLayersModelFromFile(path.join(options.out, state.dir, 'model.json'));
    compile(model, options);
    resumedOptimizer = await readOptimizer(path.join(options.out, state.dir));
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
    if (options.init) {
      const file = options.init.endsWith('.json') ? options.init : path.join(options.init, 'model.json');
      model = await withInputSize(await loadLayersModelFromFile(file), null, null);
    } else {
      model = buildUNet({ size: null, seed: options.seed });
      if (options.residual) zeroFinalLayer(model);
    }
    compile(model, options);
  }

  const trainer = await chooseTrainer(model, options, onEvent);
  if (resumedOptimizer) {
    if (trainer) trainer.restoreOptimizer(resumedOptimizer);
    else await restoreOptimizer(model, resumedOptimizer);
  }
  const engine = trainer ? 'onnx' : 'tfjs';
  // The tfjs model holds the weights validation, checkpoints and saving read.
  const syncModel = () => trainer?.syncToModel();
  const optimizerWeights = () => (trainer ? Promise.resolve(trainer.optimizerWeights()) : tfjsOptimizerWeights(model));

  const us = { acceleration: options.acceleration, center: options.center, pattern: options.pattern, axis: options.axis };
  const val = makeBatch(options.size, options.seed, 'val', 0, options.validationSize, us);
  const valPairs = { inputs: val.inputs, targets: val.targets, n: val.n, height: options.size, width: options.size };
  const started = performance.now();
  let lastLoss = NaN;
  // Inference runs with BatchNorm on the exact statistics of these training crops (set at the end of
  // the run), and validation scores the network that way too, since moving averages lag the weights
  // early in a run. Crops, not full-size images: the weights are learnt under crop statistics. At the
  // end of the shipped run, full-size images took validation from 37.41 to 33.97 dB (its first pass);
  // crops took it from 37.45 to 37.44 (models/unet-phantom/train-log.jsonl).
  const calibrationSet = makeCropBatch(options.size, options.crop, options.seed, 1e9, 64, us);
  const batchNormLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  /** Sets every BatchNorm layer's moving statistics to the exact statistics of the calibration crops. */
  const setExactStatistics = async () => {
    if (!trainer) {
      const calibration = tf.tensor4d(calibrationSet.inputs, [calibrationSet.n, calibrationSet.size, calibrationSet.size, 1]);
      recalibrateBatchNorm(model, calibration);
      calibration.dispose();
      return;
    }
    // One forward pass of the statistics graph gives what recalibrateBatchNorm computes layer by layer.
    const stats = await trainer.batchStatistics(calibrationSet.inputs, calibrationSet.n, calibrationSet.size, calibrationSet.size);
    for (const l of batchNormLayers) {
      const [gamma, beta] = l.getWeights();
      const s = stats.get(l.name)!;
      const mean = tf.tensor1d(s.mean);
      const variance = tf.tensor1d(s.variance);
      l.setWeights([gamma!, beta!, mean, variance]);
      mean.dispose();
      variance.dispose();
    }
  };
  /** Validation PSNR/SSIM under exact statistics; the moving averages are left as they were. */
  const validate = async () => {
    syncModel();
    const saved = batchNormLayers.map((l) => l.getWeights().map((t) => t.clone()));
    await setExactStatistics();
    const scored = scorePairs(model, valPairs, options.residual);
    batchNormLayers.forEach((l, i) => l.setWeights(saved[i]!));
    saved.flat().forEach((t) => t.dispose());
    return scored;
  };
  let lastVal = await validate();

  for (let step = startStep + 1; step <= options.steps; step++) {
    const lr = learningRate(options, step);
    if (trainer) trainer.setLearningRate(lr);
    else (model.optimizer as unknown as { learningRate: number }).learningRate = lr;
    const batch = makeCropBatch(options.size, options.crop, options.seed, (step - 1) * options.batch, options.batch, us);
    const targets = options.residual ? batch.targets.map((t, k) => t - batch.inputs[k]!) : batch.targets;
    let loss: number;
    if (trainer) {
      loss = await trainer.step(batch.inputs, targets, batch.n, batch.size, batch.size);
    } else {
      const x = tf.tensor4d(batch.inputs, [batch.n, batch.size, batch.size, 1]);
      const y = tf.tensor4d(targets, [batch.n, batch.size, batch.size, 1]);
      loss = (await model.trainOnBatch(x, y)) as number;
      x.dispose();
      y.dispose();
    }
    if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step} (loss ${loss}); try a smaller --lr`);
    lastLoss = loss;
    const record: Record<string, number> = { step, loss, lr, elapsedMs: Math.round(elapsedBefore + performance.now() - started) };
    if (step % options.validateEvery === 0 || step === options.steps) {
      lastVal = await validate();
      record.valPsnr = lastVal.network.psnr;
      record.valSsim = lastVal.network.ssim;
      record.zeroFilledPsnr = lastVal.zeroFilled.psnr;
    }
    await fs.appendFile(logFile, `${JSON.stringify(record)}\n`);
    if (step % options.checkpointEvery === 0 && step !== options.steps) {
      syncModel();
      await saveCheckpoint(model, await optimizerWeights(), options.out, step, options, record.elapsedMs!);
    }
    onEvent({ type: 'progress', done: step, total: options.steps, label: `loss ${loss.toFixed(4)}  val PSNR ${lastVal.network.psnr.toFixed(2)} dB (zero-filled ${lastVal.zeroFilled.psnr.toFixed(2)})` });
  }

  syncModel();
  await setExactStatistics();
  const beforeRecalibration = lastVal;
  lastVal = scorePairs(model, valPairs, options.residual);
  onEvent({ type: 'info', message: `BatchNorm set to the exact statistics of ${calibrationSet.n} training crops (${batchNormLayers.length} layers): validation PSNR ${beforeRecalibration.network.psnr.toFixed(2)} -> ${lastVal.network.psnr.toFixed(2)} dB` });
  await fs.appendFile(logFile, `${JSON.stringify({ step: options.steps, recalibratedBatchNorm: true, valPsnr: lastVal.network.psnr, valSsim: lastVal.network.ssim, zeroFilledPsnr: lastVal.zeroFilled.psnr })}\n`);

  await writeExamplesSheet(model, valPairs, options.residual, path.join(options.out, 'val-examples.png'));

  const wallTimeMs = Math.round(elapsedBefore + performance.now() - started);
  const doneSteps = options.steps - startStep;
  await saveLayersModel(model, options.out, {
    quantize: options.float16 ? 'float16' : undefined,
    metadata: { unetDream: { engine, schedule: options.schedule ?? 'constant', steps: options.steps, seed: options.seed, size: options.size, crop: options.crop, residual: options.residual, acceleration: options.acceleration, center: options.center, loss: options.loss, lr: options.lr, batch: options.batch } },
  });
  await saveCheckpoint(model, await optimizerWeights(), options.out, options.steps, options, wallTimeMs);
  await trainer?.dispose();
  return {
    steps: options.steps,
    wallTimeMs,
    imagesPerSecond: (doneSteps * options.batch) / ((performance.now() - started) / 1000),
    finalLoss: lastLoss,
    validation: { zeroFilled: lastVal.zeroFilled, network: lastVal.network },
    modelDir: options.out,
    engine,
  };
}

/** The learning rate of `step` (1-based) under the run's schedule. */
export function learningRate(options: Pick<TrainOptions, 'lr' | 'steps' | 'schedule'>, step: number): number {
  if ((options.schedule ?? 'constant') === 'constant') return options.lr;
  const floor = options.lr / 20;
  const progress = options.steps > 1 ? (step - 1) / (options.steps - 1) : 1;
  return floor + ((options.lr - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** The ONNX trainer when asked for or (auto) when the model compiles; undefined means tfjs's trainOnBatch. */
async function chooseTrainer(model: LayersModel, options: TrainOptions, onEvent: EventSink): Promise<OnnxTrainer | undefined> {
  const engine = options.engine ?? 'auto';
  if (engine === 'tfjs') return undefined;
  try {
    return await OnnxTrainer.create(model, { loss: options.loss, lr: options.lr, threads: options.threads, device: options.device });
  } catch (err) {
    if (engine === 'onnx' || !(err instanceof OnnxUnsupportedError)) throw err;
    onEvent({ type: 'warn', message: `${err.message}; training with tfjs instead` });
    return undefined;
  }
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
