/** Training steps on the active tfjs backend: model.trainOnBatch with tfjs's own Adam. */
import { tf, type LayersModel } from '../tf.js';
import { recalibrateBatchNorm } from './batchnorm.js';
import { channelsOf, checkOptimizerEntries, type ImageBatch, type OptimizerEntry, type Trainer } from './trainer.js';

export interface TfjsTrainerOptions {
  loss: 'l1' | 'mse';
  lr: number;
}

export class TfjsTrainer implements Trainer {
  readonly engine = 'tfjs' as const;

  constructor(
    private readonly model: LayersModel,
    options: TfjsTrainerOptions,
  ) {
    model.compile({ optimizer: tf.train.adam(options.lr), loss: options.loss === 'l1' ? 'meanAbsoluteError' : 'meanSquaredError' });
  }

  setLearningRate(lr: number): void {
    (this.model.optimizer as unknown as { learningRate: number }).learningRate = lr;
  }

  async step(inputs: ImageBatch, targets: Float32Array): Promise<number> {
    const { n, height, width } = inputs;
    const x = tf.tensor4d(inputs.data, [n, height, width, channelsOf(inputs)]);
    const y = tf.tensor4d(targets, [n, height, width, targets.length / (n * height * width)]);
    try {
      return (await this.model.trainOnBatch(x, y)) as number;
    } finally {
      x.dispose();
      y.dispose();
    }
  }

  syncToModel(): void {
    // trainOnBatch updates the model's own variables.
  }

  async setExactBatchNormStatistics(calibration: ImageBatch): Promise<void> {
    const x = tf.tensor4d(calibration.data, [calibration.n, calibration.height, calibration.width, channelsOf(calibration)]);
    recalibrateBatchNorm(this.model, x);
    x.dispose();
  }

  async optimizerWeights(): Promise<OptimizerEntry[]> {
    const weights = await this.model.optimizer.getWeights();
    return Promise.all(weights.map(async (w) => ({ name: w.name, shape: w.tensor.shape.slice(), data: (await w.tensor.data()) as Float32Array })));
  }

  async restoreOptimizer(entries: OptimizerEntry[], source: string): Promise<void> {
    checkOptimizerEntries(entries, this.model.trainableWeights.map((w) => ({ name: w.originalName, shape: w.shape as number[] })), source);
    await this.model.optimizer.setWeights(entries.map((e) => ({ name: e.name, tensor: tf.tensor(e.data, e.shape) })));
    // setWeights recomputes Adam's bias-correction powers as beta^(t+1); an uninterrupted run multiplies
    // them up one float32 product per step. Redo that product so a resumed run continues bit for bit.
    const adam = this.model.optimizer as unknown as { iterations: number; beta1: number; beta2: number; accBeta1?: tf.Variable; accBeta2?: tf.Variable };
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

  async dispose(): Promise<void> {
    // The model and its optimizer belong to the caller.
  }
}
