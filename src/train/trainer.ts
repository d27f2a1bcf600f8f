/**
 * Who computes the training steps. A Trainer owns the optimizer and the weights while a run lasts;
 * the tfjs model stays the one place validation, checkpoints and saving read, so `syncToModel` copies
 * the trainer's weights there before any of them. Two implementations: `TfjsTrainer` (trainOnBatch on
 * the active tfjs backend) and `OnnxTrainer` (onnxruntime computes loss and gradients; Adam in JS).
 */
import { InputError } from '../errors.js';

export type TrainingEngine = 'onnx' | 'tfjs';

/** One tensor of optimizer state, in the names and order tfjs's AdamOptimizer.getWeights() uses. */
export interface OptimizerEntry {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A batch of NHWC float32 images. */
export interface ImageBatch {
  data: Float32Array;
  n: number;
  height: number;
  width: number;
}

export interface Trainer {
  readonly engine: TrainingEngine;
  setLearningRate(lr: number): void;
  /** One optimizer step; `targets` has the model's output shape. Returns the loss before the update. */
  step(inputs: ImageBatch, targets: Float32Array): Promise<number>;
  /** Copies the current weights and BatchNorm moving statistics into the tfjs model. */
  syncToModel(): void;
  /**
   * Sets every BatchNorm layer of the tfjs model to the exact statistics of `calibration` under the
   * current weights (the trainer's own moving averages are left as they are).
   */
  setExactBatchNormStatistics(calibration: ImageBatch): Promise<void>;
  /** Adam's state: iter, then m and v for every trainable weight. */
  optimizerWeights(): Promise<OptimizerEntry[]>;
  /** Restores optimizerWeights()-shaped entries read from `source` (named in errors). */
  restoreOptimizer(entries: OptimizerEntry[], source: string): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Checks checkpointed Adam state against the weights it must drive: iter, then m and v per weight,
 * matched by position (tfjs's names carry per-process suffixes) with every shape compared.
 */
export function checkOptimizerEntries(entries: OptimizerEntry[], shapes: { name: string; shape: number[] }[], source: string): void {
  const n = shapes.length;
  if (entries.length !== 1 + 2 * n) {
    throw new InputError(source, `optimizer state has ${entries.length} entries; this model needs ${1 + 2 * n} (iter, then m and v for ${n} weights)`);
  }
  for (const offset of [1, 1 + n]) {
    shapes.forEach((p, i) => {
      const e = entries[offset + i]!;
      if (e.shape.join(',') !== p.shape.join(',')) {
        throw new InputError(source, `optimizer entry ${e.name} has shape [${e.shape.join(', ')}]; weight ${p.name} needs [${p.shape.join(', ')}]`);
      }
    });
  }
}

/** Channels of an NHWC batch from its length. */
export function channelsOf(batch: ImageBatch): number {
  return batch.data.length / (batch.n * batch.height * batch.width);
}
