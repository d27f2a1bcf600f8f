/**
 * Trains an image-to-image network (default: the seed's U-Net) to remove aliasing: Adam on (zero-filled,
 * fully sampled) phantom pairs, a fixed validation set, checkpoints every K steps, resume, and a
 * JSON-lines log. Who computes the steps is a Trainer (trainer.ts): onnxruntime or tfjs.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { OnnxUnsupportedError } from '../engine/onnx/errors.js';
import type { LayersModel } from '../tf.js';
import { UsageError, invalidParameterError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { isPowerOfTwo, type MaskAxis, type MaskPattern } from '../mri/index.js';
import { checkInputSize, inputSizeMessage } from '../model/input-size.js';
import { loadModel } from '../model/load.js';
import { withInputSize } from '../model/resize.js';
import { loadLayersModelFromFile, saveLayersModel } from '../model/tfjs-files.js';
import { buildUNet } from '../model/unet.js';
import type { EventSink } from '../events.js';
import { readOptimizer, readState, saveCheckpoint, STATE_FILE } from './checkpoint.js';
import { openTrainingData, type DataSpec } from './data.js';
import type { VolumeAxis } from './volumes.js';
import { predictImages, scorePairs, type QualityPair } from './evaluate.js';
import { OnnxTrainer } from './onnx-trainer.js';
import { TfjsTrainer } from './tfjs-trainer.js';
import type { Trainer, TrainingEngine } from './trainer.js';

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
  /**
   * The network a fresh run trains (one image in, one image of the same size out; a residual run also
   * needs as many output channels as input channels). Default: the seed's U-Net, built from `seed`.
   * A resumed run continues its checkpoint's model, so `model` and `resume` together are refused.
   */
  model?: LayersModel;
  /**
   * Start a fresh run from this model (a tfjs model folder or model.json, a Keras file, or `builtin`;
   * e.g. a pruned model) with its weights as they are, instead of a new U-Net: fine-tuning. A resumed
   * run continues its checkpoint and does not read it. Not together with `model`.
   */
  init?: string;
  /** Where the pairs come from (default phantoms); see data.ts. */
  data?: DataSpec;
  /** Slice axes of NIfTI volumes (default x, y and z). */
  axes?: VolumeAxis[];
  /** Share of each volume's non-empty z range held out for validation (default 0.15). */
  validationFraction?: number;
  /** Augment real slices (default true). */
  augment?: boolean;
  /** Largest Gaussian blur sigma of the augmentation, grid pixels (default 0: no blur). */
  augmentBlur?: number;
}

export interface TrainResult {
  steps: number;
  wallTimeMs: number;
  imagesPerSecond: number;
  finalLoss: number;
  validation: { zeroFilled: QualityPair; network: QualityPair };
  modelDir: string;
  engine: TrainingEngine;
}

/** The options a checkpoint records: what shaped the weights, not where or how fast they were computed. */
type RecordedOptions = Omit<TrainOptions, 'resume' | 'out' | 'steps' | 'engine' | 'threads' | 'device' | 'model' | 'init'>;

/** The undersampling settings train and eval share: checked before any work. */
export function validateUndersampling(o: { acceleration: number; center: number; size: number }): void {
  if (!(o.acceleration >= 1)) throw invalidParameterError('acceleration', 'a number >= 1', o.acceleration);
  if (!(o.center >= 0 && o.center <= 1)) throw invalidParameterError('center', 'a fraction in [0, 1]', o.center);
  if (!Number.isInteger(o.size) || !isPowerOfTwo(o.size) || o.size < 16) {
    throw invalidParameterError('size', 'a power of two >= 16 (the FFT needs powers of two; the U-Net needs multiples of 8)', o.size);
  }
}

export function validateTrainOptions(o: TrainOptions): void {
  validateUndersampling(o);
  if (o.augmentBlur !== undefined && !(Number.isFinite(o.augmentBlur) && o.augmentBlur >= 0 && o.augmentBlur <= 8)) throw invalidParameterError('augmentBlur', 'a sigma between 0 and 8 pixels', o.augmentBlur);
  if (!Number.isInteger(o.crop) || o.crop < 16 || o.crop > o.size) throw invalidParameterError('crop', `an integer between 16 and size (${o.size})`, o.crop);
  if (o.model) {
    checkInputSizes(o.model, o);
  } else if (o.init === undefined && o.crop % 8 !== 0) {
    // The default U-Net's rule; an init model's own sizes are checked once it is loaded.
    throw invalidParameterError('crop', `a multiple of 8 between 16 and size (${o.size}), as the U-Net takes`, o.crop);
  }
  for (const [name, v] of [['steps', o.steps], ['batch', o.batch], ['checkpointEvery', o.checkpointEvery], ['validateEvery', o.validateEvery], ['validationSize', o.validationSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw invalidParameterError(name, 'an integer >= 1', v);
  }
  if (!(o.lr > 0)) throw invalidParameterError('lr', 'a positive number', o.lr);
  if (o.loss !== 'l1' && o.loss !== 'mse') throw invalidParameterError('loss', 'l1 or mse', o.loss);
  if (o.model && o.resume) throw new UsageError('model and resume: a resumed run continues the model of its checkpoint; give one or the other');
  if (o.model && o.init !== undefined) throw new UsageError('model and init: both name the starting network; give one or the other');
  if (o.init !== undefined && o.init.trim() === '') throw invalidParameterError('init', 'a model folder, model.json or Keras file', JSON.stringify(o.init));
  if (o.model) checkTrainable(o.model, o.residual);
}

/** The crops train the model and the full size validates it: both must be sizes it takes. */
function checkInputSizes(model: LayersModel, o: Pick<TrainOptions, 'crop' | 'size'>): void {
  for (const [name, value] of [['crop', o.crop], ['size', o.size]] as const) {
    const fits = checkInputSize(model, value);
    if (!fits.ok) throw new UsageError(`${name}: ${inputSizeMessage(value, fits)}`);
  }
}

/** The model a fresh run with `init` starts from: loaded, taking any input size, checked like `model`. */
async function loadInitModel(options: TrainOptions): Promise<LayersModel> {
  const model = await withInputSize((await loadModel(options.init)).model, null, null);
  checkInputSizes(model, options);
  checkTrainable(model, options.residual);
  return model;
}

/** The model maps one image to one image of the same size (and, residual, the same channels). */
function checkTrainable(model: LayersModel, residual: boolean): void {
  const fail = (why: string) => invalidParameterError('model', why, `inputs ${JSON.stringify(model.inputs.map((t) => t.shape))}, outputs ${JSON.stringify(model.outputs.map((t) => t.shape))}`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw fail('a model with one input and one output');
  const inShape = model.inputs[0]!.shape;
  const outShape = model.outputs[0]!.shape;
  if (inShape.length !== 4 || outShape.length !== 4) throw fail('an image-to-image model ([batch, height, width, channels] in and out)');
  if (residual && inShape[3] !== outShape[3]) throw fail('as many output channels as input channels (residual learning adds the output to the input)');
}

/**
 * A residual network whose last layer starts at zero reconstructs exactly the zero-filled input at
 * step 0, instead of adding the random init's noise (which cost ~12 dB and hundreds of steps to undo).
 */
export function zeroFinalLayer(model: LayersModel): void {
  const last = model.layers[model.layers.length - 1]!;
  last.setWeights(last.getWeights().map((w) => w.zerosLike()));
}

/**
 * Trains `options.model` (default: the seed's U-Net) on phantom pairs. The name stays for the library's
 * callers; any image-to-image model trains.
 */
export async function trainUNet(options: TrainOptions, onEvent: EventSink = () => undefined): Promise<TrainResult> {
  validateTrainOptions(options);
  const us = { acceleration: options.acceleration, center: options.center, pattern: options.pattern, axis: options.axis };
  // The data first: a missing volume fails before any model is built or loaded.
  const data = await openTrainingData(options.data ?? { kind: 'phantoms' }, {
    size: options.size, crop: options.crop, seed: options.seed, undersampling: us, axes: options.axes, validationFraction: options.validationFraction, augment: options.augment, augmentBlur: options.augmentBlur,
  });
  const logFile = path.join(options.out, 'train-log.jsonl');
  const initial = options.init !== undefined && !options.resume ? await loadInitModel(options) : undefined;
  const opened = options.resume ? await openCheckpoint(options, logFile, onEvent) : await startFresh(options, logFile, initial);
  const { model, startStep, elapsedBefore } = opened;

  const trainer = await chooseTrainer(model, options, onEvent);
  if (opened.optimizer) await trainer.restoreOptimizer(opened.optimizer.entries, opened.optimizer.source);

  const val = data.validation(options.validationSize);
  const valPairs = { inputs: val.inputs, targets: val.targets, n: val.n, height: options.size, width: options.size };
  const started = performance.now();
  let lastLoss = NaN;
  // Inference runs with BatchNorm on the exact statistics of these training crops (set at the end of
  // the run), and validation scores the network that way too, since moving averages lag the weights
  // early in a run. Crops, not full-size images: the weights are learnt under crop statistics. At the
  // end of the shipped run, full-size images took validation from 37.41 to 33.97 dB (its first pass);
  // crops took it from 37.45 to 37.44 (models/unet-phantom/train-log.jsonl).
  const crops = data.trainBatch(1e9, 64);
  const calibration = { data: crops.inputs, n: crops.n, height: crops.size, width: crops.size };
  const batchNormLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  /** Validation PSNR/SSIM under exact statistics; the moving averages are left as they were. */
  const validate = async () => {
    trainer.syncToModel();
    const saved = batchNormLayers.map((l) => l.getWeights().map((t) => t.clone()));
    await trainer.setExactBatchNormStatistics(calibration);
    const scored = scorePairs(model, valPairs, options.residual);
    batchNormLayers.forEach((l, i) => l.setWeights(saved[i]!));
    saved.flat().forEach((t) => t.dispose());
    return scored;
  };
  let lastVal = await validate();
  if (startStep === 0) {
    // Step 0: what the untrained network gives (a residual run: exactly the zero-filled input).
    await fs.appendFile(logFile, `${JSON.stringify({ step: 0, ...validationRecord(lastVal) })}\n`);
  }

  for (let step = startStep + 1; step <= options.steps; step++) {
    const lr = learningRate(options, step);
    trainer.setLearningRate(lr);
    const batch = data.trainBatch((step - 1) * options.batch, options.batch);
    const targets = options.residual ? batch.targets.map((t, k) => t - batch.inputs[k]!) : batch.targets;
    const loss = await trainer.step({ data: batch.inputs, n: batch.n, height: batch.size, width: batch.size }, targets);
    if (!Number.isFinite(loss)) throw new UsageError(`training diverged at step ${step} (loss ${loss}); try a smaller lr`);
    lastLoss = loss;
    const record: Record<string, number> = { step, loss, lr, elapsedMs: Math.round(elapsedBefore + performance.now() - started) };
    if (step % options.validateEvery === 0 || step === options.steps) {
      lastVal = await validate();
      Object.assign(record, validationRecord(lastVal));
    }
    await fs.appendFile(logFile, `${JSON.stringify(record)}\n`);
    if (step % options.checkpointEvery === 0 && step !== options.steps) {
      trainer.syncToModel();
      await saveCheckpoint(model, await trainer.optimizerWeights(), options.out, step, recordedOptions(options), record.elapsedMs!);
    }
    onEvent({ type: 'progress', done: step, total: options.steps, label: `loss ${loss.toFixed(4)}  val PSNR ${lastVal.network.psnr.toFixed(2)} dB (zero-filled ${lastVal.zeroFilled.psnr.toFixed(2)})` });
  }

  trainer.syncToModel();
  await trainer.setExactBatchNormStatistics(calibration);
  const beforeRecalibration = lastVal;
  lastVal = scorePairs(model, valPairs, options.residual);
  onEvent({ type: 'info', message: `BatchNorm set to the exact statistics of ${calibration.n} training crops (${batchNormLayers.length} layers): validation PSNR ${beforeRecalibration.network.psnr.toFixed(2)} -> ${lastVal.network.psnr.toFixed(2)} dB` });
  await fs.appendFile(logFile, `${JSON.stringify({ step: options.steps, recalibratedBatchNorm: true, valPsnr: lastVal.network.psnr, valSsim: lastVal.network.ssim, zeroFilledPsnr: lastVal.zeroFilled.psnr })}\n`);

  await writeExamplesSheet(model, valPairs, options.residual, path.join(options.out, 'val-examples.png'));

  const wallTimeMs = Math.round(elapsedBefore + performance.now() - started);
  const doneSteps = options.steps - startStep;
  await saveLayersModel(model, options.out, {
    quantize: options.float16 ? 'float16' : undefined,
    metadata: { unetDream: { engine: trainer.engine, schedule: options.schedule ?? 'constant', steps: options.steps, seed: options.seed, size: options.size, crop: options.crop, residual: options.residual, acceleration: options.acceleration, center: options.center, loss: options.loss, lr: options.lr, batch: options.batch, ...data.record, ...(options.init ? { init: path.basename(path.resolve(options.init)) } : {}) } },
  });
  await saveCheckpoint(model, await trainer.optimizerWeights(), options.out, options.steps, recordedOptions(options), wallTimeMs);
  await trainer.dispose();
  return {
    steps: options.steps,
    wallTimeMs,
    imagesPerSecond: (doneSteps * options.batch) / ((performance.now() - started) / 1000),
    finalLoss: lastLoss,
    validation: { zeroFilled: lastVal.zeroFilled, network: lastVal.network },
    modelDir: options.out,
    engine: trainer.engine,
  };
}

function validationRecord(v: { zeroFilled: QualityPair; network: QualityPair }): Record<string, number> {
  return { valPsnr: v.network.psnr, valSsim: v.network.ssim, zeroFilledPsnr: v.zeroFilled.psnr };
}

function recordedOptions(options: TrainOptions): RecordedOptions {
  const { resume: _r, out: _o, steps: _s, engine: _e, threads: _t, device: _d, model: _m, init: _i, ...rest } = options;
  return rest;
}

interface OpenedRun {
  model: LayersModel;
  startStep: number;
  elapsedBefore: number;
  optimizer?: { entries: Awaited<ReturnType<typeof readOptimizer>>; source: string };
}

/** A new run: from `initial` (the `init` model, its weights kept as they are), `model`, or a new U-Net. */
async function startFresh(options: TrainOptions, logFile: string, initial?: LayersModel): Promise<OpenedRun> {
  await fs.mkdir(options.out, { recursive: true });
  if (existsSync(path.join(options.out, STATE_FILE))) {
    throw new UsageError(`${options.out} already holds a training run; set resume to continue it or choose another out`);
  }
  await fs.rm(logFile, { force: true });
  if (initial) return { model: initial, startStep: 0, elapsedBefore: 0 };
  const model = options.model ?? buildUNet({ size: null, seed: options.seed });
  // A fine-tuned model keeps its last layer: zeroing it would throw away what it learnt.
  if (options.residual && !options.init) zeroFinalLayer(model);
  return { model, startStep: 0, elapsedBefore: 0 };
}

async function openCheckpoint(options: TrainOptions, logFile: string, onEvent: EventSink): Promise<OpenedRun> {
  const state = await readState<RecordedOptions>(options.out);
  if (!state || !existsSync(path.join(options.out, state.dir, 'model.json'))) {
    throw new UsageError(`resume: no checkpoint in ${options.out} (expected ${STATE_FILE} written by an earlier train run)`);
  }
  const dir = path.join(options.out, state.dir);
  const model = await loadLayersModelFromFile(path.join(dir, 'model.json'));
  const entries = await readOptimizer(dir);
  // Drop log lines past the checkpoint (those steps run again) and the end-of-run recalibration
  // record of the run being continued.
  if (existsSync(logFile)) {
    const kept = (await fs.readFile(logFile, 'utf8')).split('\n').filter((l) => {
      if (!l) return false;
      const entry = JSON.parse(l) as { step: number; recalibratedBatchNorm?: boolean };
      return entry.step <= state.step && !entry.recalibratedBatchNorm;
    });
    await writeFileAtomic(logFile, kept.map((l) => `${l}\n`).join(''));
  }
  onEvent({ type: 'info', message: `resuming from step ${state.step} (${state.dir})` });
  return { model, startStep: state.step, elapsedBefore: state.elapsedMs, optimizer: { entries, source: dir } };
}

/** The learning rate of `step` (1-based) under the run's schedule. */
export function learningRate(options: Pick<TrainOptions, 'lr' | 'steps' | 'schedule'>, step: number): number {
  if ((options.schedule ?? 'constant') === 'constant') return options.lr;
  const floor = options.lr / 20;
  const progress = options.steps > 1 ? (step - 1) / (options.steps - 1) : 1;
  return floor + ((options.lr - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** The ONNX trainer when asked for or (auto) when the model compiles; else tfjs's trainOnBatch. */
async function chooseTrainer(model: LayersModel, options: TrainOptions, onEvent: EventSink): Promise<Trainer> {
  const engine = options.engine ?? 'auto';
  const tfjs = () => new TfjsTrainer(model, { loss: options.loss, lr: options.lr });
  if (engine === 'tfjs') return tfjs();
  try {
    return await OnnxTrainer.create(model, { loss: options.loss, lr: options.lr, threads: options.threads, device: options.device });
  } catch (err) {
    if (engine === 'onnx' || !(err instanceof OnnxUnsupportedError)) throw err;
    onEvent({ type: 'warn', message: `${err.message}; training with tfjs instead` });
    return tfjs();
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
