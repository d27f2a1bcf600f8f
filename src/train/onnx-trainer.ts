/**
 * One training step on onnxruntime: the compiled training graph (engine/onnx/training.ts) gives the
 * loss, every weight's gradient and the BatchNorm batch statistics; Adam and the moving averages are
 * updated here in JS. The tfjs model is only the source of the architecture and the place weights are
 * copied back to for validation, checkpoints and saving.
 */
import { ort } from '../engine/onnx/runtime.js';
import { tf, type LayersModel } from '../tf.js';
import { compileTrainingGraph, type TrainingGraph, type TrainingLoss } from '../engine/onnx/training.js';
import { Adam } from '../ascent/optim/adam.js';
import { assertDeviceAvailable } from '../engine/onnx/onnx-engine.js';
import { channelsOf, checkOptimizerEntries, type ImageBatch, type OptimizerEntry, type Trainer } from './trainer.js';

export interface OnnxTrainerOptions {
  loss: TrainingLoss;
  lr: number;
  threads?: number;
  /** onnxruntime execution provider (cuda needs its CUDA 12 binaries; see the README). */
  device?: 'cpu' | 'cuda';
}

export class OnnxTrainer implements Trainer {
  readonly engine = 'onnx' as const;
  readonly graph: TrainingGraph;
  private readonly params: Float32Array[];
  private readonly adam: Adam;
  /** Moving mean and variance per BatchNorm layer, updated from each step's batch statistics. */
  private readonly moving = new Map<string, { mean: Float32Array; variance: Float32Array }>();

  private constructor(
    private readonly model: LayersModel,
    private readonly session: ort.InferenceSession,
    graph: TrainingGraph,
    lr: number,
    private readonly statisticsSession: ort.InferenceSession,
    private readonly statisticsGraph: TrainingGraph,
  ) {
    this.graph = graph;
    this.params = graph.params.map((p) => Float32Array.from(model.getLayer(p.layer).getWeights()[p.index]!.dataSync() as Float32Array));
    this.adam = new Adam(this.params.map((p) => p.length), { lr });
    for (const bn of graph.batchNorms) {
      const w = model.getLayer(bn.layer).getWeights();
      this.moving.set(bn.layer, { mean: Float32Array.from(w[2]!.dataSync() as Float32Array), variance: Float32Array.from(w[3]!.dataSync() as Float32Array) });
    }
  }

  /** Compiles the model's training graph (throws OnnxUnsupportedError for layers it cannot train). */
  static async create(model: LayersModel, options: OnnxTrainerOptions): Promise<OnnxTrainer> {
    assertDeviceAvailable(options.device ?? 'cpu');
    const graph = compileTrainingGraph(model, { loss: options.loss });
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [options.device ?? 'cpu'],
      // One thread unless asked: on this project's 2-core machine a step took 809 ms on 1 thread and 918 ms
      // on 2 (npm run bench -- --only train); the batch's convolutions are too small to split well.
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    };
    const session = await ort.InferenceSession.create(graph.modelProto, sessionOptions);
    const statisticsGraph = compileTrainingGraph(model, { loss: options.loss, outputs: 'statistics' });
    const statisticsSession = await ort.InferenceSession.create(statisticsGraph.modelProto, sessionOptions);
    return new OnnxTrainer(model, session, graph, options.lr, statisticsSession, statisticsGraph);
  }

  /**
   * Every BatchNorm layer's exact statistics over `inputs` (one batch, current weights): what
   * recalibrateBatchNorm computes layer by layer, in one forward pass.
   */
  async batchStatistics(batch: ImageBatch): Promise<Map<string, { mean: Float32Array; variance: Float32Array }>> {
    const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', batch.data, [batch.n, batch.height, batch.width, channelsOf(batch)]) };
    this.feedWeights(this.statisticsGraph, feeds);
    const out = await this.statisticsSession.run(feeds);
    const stats = new Map<string, { mean: Float32Array; variance: Float32Array }>();
    for (const bn of this.statisticsGraph.batchNorms) {
      stats.set(bn.layer, { mean: Float32Array.from(out[bn.mean]!.data as Float32Array), variance: Float32Array.from(out[bn.variance]!.data as Float32Array) });
    }
    for (const t of Object.values(out)) t.dispose?.();
    return stats;
  }

  async setExactBatchNormStatistics(calibration: ImageBatch): Promise<void> {
    const stats = await this.batchStatistics(calibration);
    for (const [name, s] of stats) {
      const layer = this.model.getLayer(name);
      // The moving mean and variance are a BatchNorm layer's last two weights (gamma and beta are optional).
      const weights = layer.getWeights().slice();
      const mean = tf.tensor1d(s.mean);
      const variance = tf.tensor1d(s.variance);
      weights.splice(weights.length - 2, 2, mean, variance);
      layer.setWeights(weights);
      mean.dispose();
      variance.dispose();
    }
  }

  /** One Adam step on a batch (NHWC float32); returns the loss before the update. */
  async step(inputs: ImageBatch, targets: Float32Array): Promise<number> {
    const { n, height, width } = inputs;
    const feeds: Record<string, ort.Tensor> = {
      input: new ort.Tensor('float32', inputs.data, [n, height, width, channelsOf(inputs)]),
      target: new ort.Tensor('float32', targets, [n, height, width, targets.length / (n * height * width)]),
    };
    this.feedWeights(this.graph, feeds);
    const out = await this.session.run(feeds);
    const loss = (out.loss!.data as Float32Array)[0]!;
    const grads = this.graph.params.map((p) => out[p.gradient]!.data as Float32Array);
    this.adam.step(this.params, grads);
    for (const bn of this.graph.batchNorms) {
      const state = this.moving.get(bn.layer)!;
      const decay = 1 - bn.momentum;
      // tfjs-layers: moving -= (moving - batch) * (1 - momentum).
      const mean = out[bn.mean]!.data as Float32Array;
      const variance = out[bn.variance]!.data as Float32Array;
      for (let c = 0; c < state.mean.length; c++) {
        state.mean[c] = state.mean[c]! - (state.mean[c]! - mean[c]!) * decay;
        state.variance[c] = state.variance[c]! - (state.variance[c]! - variance[c]!) * decay;
      }
    }
    for (const t of Object.values(out)) t.dispose?.();
    return loss;
  }

  /** The current weights as graph inputs (both graphs list them in the same order; no copies). */
  private feedWeights(graph: TrainingGraph, feeds: Record<string, ort.Tensor>): void {
    graph.params.forEach((p, i) => (feeds[p.name] = new ort.Tensor('float32', this.params[i]!, p.shape)));
  }

  /** Copies the current weights and moving statistics into the tfjs model. */
  syncToModel(): void {
    const created: tf.Tensor[] = [];
    const fresh = (t: tf.Tensor) => (created.push(t), t);
    // getWeights() returns the layer's own variables: replace entries, never dispose them.
    const byLayer = new Map<string, tf.Tensor[]>();
    for (const layer of this.model.layers) if (layer.weights.length) byLayer.set(layer.name, layer.getWeights());
    this.graph.params.forEach((p, i) => {
      byLayer.get(p.layer)![p.index] = fresh(tf.tensor(this.params[i]!, p.shape));
    });
    for (const [layer, s] of this.moving) {
      const list = byLayer.get(layer)!;
      list[2] = fresh(tf.tensor1d(s.mean));
      list[3] = fresh(tf.tensor1d(s.variance));
    }
    for (const [name, list] of byLayer) this.model.getLayer(name).setWeights(list);
    created.forEach((t) => t.dispose());
  }

  /** Adam's state in the names and order tfjs's AdamOptimizer.getWeights() uses: iter, every m, every v. */
  async optimizerWeights(): Promise<OptimizerEntry[]> {
    const iter = { name: 'iter', shape: [], data: Float32Array.of(this.adam.iterations) };
    // tfjs names moments after the variables' unique names (dconv64/kernel_2 when a process built several models).
    const variable = (p: TrainingGraph['params'][number]) => this.model.getLayer(p.layer).weights[p.index]!.name;
    const m = this.graph.params.map((p, i) => ({ name: `${variable(p)}/m`, shape: p.shape, data: this.adam.m[i]! }));
    const v = this.graph.params.map((p, i) => ({ name: `${variable(p)}/v`, shape: p.shape, data: this.adam.v[i]! }));
    return [iter, ...m, ...v];
  }

  /** Restores Adam from optimizerWeights()-shaped entries, matched by position with every shape checked. */
  async restoreOptimizer(entries: OptimizerEntry[], source: string): Promise<void> {
    checkOptimizerEntries(entries, this.graph.params, source);
    const n = this.graph.params.length;
    const moments = (offset: number) => entries.slice(offset, offset + n).map((e) => e.data);
    this.adam.restore(Math.round(entries[0]!.data[0]!), moments(1), moments(1 + n));
  }

  setLearningRate(lr: number): void {
    this.adam.lr = lr;
  }

  async dispose(): Promise<void> {
    await this.session.release();
    await this.statisticsSession.release();
  }
}
