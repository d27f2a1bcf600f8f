import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf, type LayersModel } from '../src/tf.js';
import { buildUNet } from '../src/model/unet.js';
import { compileTrainingGraph } from '../src/engine/onnx/training.js';
import { OnnxUnsupportedError } from '../src/engine/onnx/errors.js';
import { OnnxTrainer } from '../src/train/onnx-trainer.js';
import { Adam } from '../src/ascent/optim/adam.js';
import ort from 'onnxruntime-node';

function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

/**
 * tfjs's own gradients of the loss, BatchNorm in training mode, by trainable variable name. On wasm,
 * where the project's gradients are registered: tfjs-cpu's ResizeNearestNeighborGrad is wrong for
 * batches > 1 (see gradients.test.ts), and finite differences side with wasm and ONNX.
 */
function tfjsGradients(model: LayersModel, x: tf.Tensor4D, y: tf.Tensor4D, loss: 'l1' | 'mse'): { loss: number; grads: Map<string, Float32Array> } {
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(x, { training: true }) as tf.Tensor;
    const d = tf.sub(p, y);
    return (loss === 'l1' ? tf.mean(tf.abs(d)) : tf.mean(tf.square(d))) as tf.Scalar;
  }, vars);
  const out = new Map<string, Float32Array>();
  model.trainableWeights.forEach((w, i) => out.set(w.originalName, grads[vars[i]!.name]!.dataSync() as Float32Array));
  const l = value.dataSync()[0]!;
  value.dispose();
  Object.values(grads).forEach((t) => t.dispose());
  return { loss: l, grads: out };
}

async function onnxGradients(model: LayersModel, x: Float32Array, y: Float32Array, shape: number[], loss: 'l1' | 'mse', targetShape = shape) {
  const graph = compileTrainingGraph(model, { loss });
  const session = await ort.InferenceSession.create(graph.modelProto, { logSeverityLevel: 3 });
  const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, shape), target: new ort.Tensor('float32', y, targetShape) };
  for (const p of graph.params) feeds[p.name] = new ort.Tensor('float32', model.getLayer(p.layer).getWeights()[p.index]!.dataSync() as Float32Array, p.shape);
  const out = await session.run(feeds);
  await session.release();
  return { graph, out };
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

describe('ONNX training graph', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  for (const loss of ['l1', 'mse'] as const) {
    it(`gives the U-Net's weight gradients tfjs gives (${loss}, BatchNorm on batch statistics)`, async () => {
      const model = buildUNet({ size: null, seed: 11 });
      const shape = [2, 16, 16, 1];
      const x = randomData(2 * 16 * 16, 1);
      const y = randomData(2 * 16 * 16, 2);
      const ref = tfjsGradients(model, tf.tensor4d(x, shape as [number, number, number, number]), tf.tensor4d(y, shape as [number, number, number, number]), loss);
      const { graph, out } = await onnxGradients(model, x, y, shape, loss);
      expect(graph.params).toHaveLength(model.trainableWeights.length);
      expect((out.loss!.data as Float32Array)[0]).toBeCloseTo(ref.loss, 4);
      for (const p of graph.params) {
        const expected = ref.grads.get(p.name)!;
        const actual = out[p.gradient]!.data as Float32Array;
        expect(actual.length, p.name).toBe(expected.length);
        const scale = maxAbs(expected);
        expect(scale, p.name).toBeGreaterThan(0);
        let worst = 0;
        for (let k = 0; k < actual.length; k++) worst = Math.max(worst, Math.abs(actual[k]! - expected[k]!));
        expect(worst / scale, p.name).toBeLessThan(1e-3);
      }
    });
  }

  it('trains other layouts too: valid padding, 5x3 kernels, no bias, tanh, average pooling, a shared input', async () => {
    const input = tf.input({ shape: [null, null, 2] });
    const a = tf.layers.conv2d({ filters: 3, kernelSize: [5, 3], padding: 'valid', activation: 'tanh', name: 'a' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid', useBias: false, name: 'b' }).apply(a) as tf.SymbolicTensor;
    const pooled = tf.layers.averagePooling2d({ poolSize: 2, name: 'pool' }).apply(b) as tf.SymbolicTensor;
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(pooled) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([up, b]) as tf.SymbolicTensor;
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'out' }).apply(sum) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const x = randomData(2 * 12 * 10 * 2, 3);
    // Output is 12-4-2 = 6 by 10-2-2 = 6.
    const y = randomData(2 * 6 * 6 * 2, 4);
    const ref = tfjsGradients(model, tf.tensor4d(x, [2, 12, 10, 2]), tf.tensor4d(y, [2, 6, 6, 2]), 'mse');
    const { graph, out: res } = await onnxGradients(model, x, y, [2, 12, 10, 2], 'mse', [2, 6, 6, 2]);
    expect(graph.params.map((p) => p.name)).toEqual(['a/kernel', 'a/bias', 'b/kernel', 'out/kernel', 'out/bias']);
    expect((res.loss!.data as Float32Array)[0]).toBeCloseTo(ref.loss, 5);
    for (const p of graph.params) {
      const expected = ref.grads.get(p.name)!;
      const actual = res[p.gradient]!.data as Float32Array;
      const scale = maxAbs(expected);
      let worst = 0;
      for (let k = 0; k < actual.length; k++) worst = Math.max(worst, Math.abs(actual[k]! - expected[k]!));
      expect(worst / scale, p.name).toBeLessThan(1e-4);
    }
  });

  it('agrees with central finite differences of its own loss', async () => {
    const model = buildUNet({ size: null, seed: 11 });
    const shape = [2, 16, 16, 1];
    const x = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 1.7) * 0.5 + 0.5);
    const y = Float32Array.from({ length: 512 }, (_, i) => Math.cos(i * 0.3) * 0.5 + 0.5);
    const graph = compileTrainingGraph(model, { loss: 'mse' });
    const session = await ort.InferenceSession.create(graph.modelProto, { logSeverityLevel: 3 });
    const params = graph.params.map((p) => Float32Array.from(model.getLayer(p.layer).getWeights()[p.index]!.dataSync() as Float32Array));
    const run = () => {
      const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, shape), target: new ort.Tensor('float32', y, shape) };
      graph.params.forEach((p, i) => (feeds[p.name] = new ort.Tensor('float32', params[i]!, p.shape)));
      return session.run(feeds);
    };
    const base = await run();
    // Weights past the max-pools and ReLUs of the first layers, where the loss is smooth at this scale.
    for (const name of ['uconv128/kernel', 'uconv128/bias', 'conv128_2/gamma', 'conv512/bias', 'final_conv1/kernel']) {
      const i = graph.params.findIndex((p) => p.name === name);
      const g = base[graph.params[i]!.gradient]!.data as Float32Array;
      let k = 0;
      for (let j = 0; j < g.length; j++) if (Math.abs(g[j]!) > Math.abs(g[k]!)) k = j;
      const h = 1e-3;
      const original = params[i]![k]!;
      params[i]![k] = original + h;
      const up = ((await run()).loss!.data as Float32Array)[0]!;
      params[i]![k] = original - h;
      const down = ((await run()).loss!.data as Float32Array)[0]!;
      params[i]![k] = original;
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(numeric - g[k]!) / Math.abs(g[k]!), `${name}[${k}]: analytic ${g[k]} numeric ${numeric}`).toBeLessThan(0.02);
    }
    await session.release();
  });

  it('outputs each BatchNorm layer\'s batch mean and biased variance', async () => {
    const model = buildUNet({ size: null, seed: 11 });
    const shape = [2, 16, 16, 1];
    const x = randomData(2 * 16 * 16, 5);
    const { graph, out } = await onnxGradients(model, x, x, shape, 'l1');
    const bn = graph.batchNorms.find((b) => b.layer === 'conv64_1')!;
    const probe = tf.model({ inputs: model.inputs, outputs: model.getLayer('conv64_1').input as tf.SymbolicTensor });
    const act = (probe.predict(tf.tensor4d(x, shape as [number, number, number, number])) as tf.Tensor).reshape([-1, 64]);
    const { mean, variance } = tf.moments(act, 0);
    const m = out[bn.mean]!.data as Float32Array;
    const v = out[bn.variance]!.data as Float32Array;
    const em = mean.dataSync();
    const ev = variance.dataSync();
    for (let c = 0; c < 64; c++) {
      expect(m[c]).toBeCloseTo(em[c]!, 5);
      expect(v[c]).toBeCloseTo(ev[c]!, 5);
    }
  });

  it('names the layer it cannot train', () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const conv = tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', name: 'strided' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: conv });
    expect(() => compileTrainingGraph(model, { loss: 'l1' })).toThrow(OnnxUnsupportedError);
    expect(() => compileTrainingGraph(model, { loss: 'l1' })).toThrow(/layer "strided" \(Conv2D\): strides or dilation other than 1 \(in training\)/);
  });
});

describe('Adam and the ONNX trainer', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('Adam matches tfjs\'s AdamOptimizer step for step', () => {
    const p0 = randomData(50, 9).map((v) => v - 0.5);
    const grads = [1, 2, 3].map((s) => randomData(50, 20 + s).map((v) => (v - 0.5) * 10 ** -s));
    const variable = tf.variable(tf.tensor1d(p0));
    const opt = tf.train.adam(0.01);
    const params = [Float32Array.from(p0)];
    const adam = new Adam([50], { lr: 0.01 });
    for (const g of grads) {
      opt.applyGradients([{ name: variable.name, tensor: tf.tensor1d(g) }]);
      adam.step(params, [g]);
    }
    const expected = variable.dataSync();
    for (let k = 0; k < 50; k++) expect(params[0]![k]).toBeCloseTo(expected[k]!, 6);
  });

  it('gives in one forward pass the BatchNorm statistics recalibration computes layer by layer', async () => {
    const { recalibrateBatchNorm } = await import('../src/train/batchnorm.js');
    const model = buildUNet({ size: null, seed: 6 });
    const trainer = await OnnxTrainer.create(model, { loss: 'l1', lr: 1e-3, threads: 1 });
    const x = randomData(3 * 16 * 16, 8);
    const stats = await trainer.batchStatistics({ data: x, n: 3, height: 16, width: 16 });
    const input = tf.tensor4d(x, [3, 16, 16, 1]);
    recalibrateBatchNorm(model, input);
    input.dispose();
    expect(stats.size).toBe(7);
    for (const [layer, s] of stats) {
      const [, , mean, variance] = model.getLayer(layer).getWeights();
      const em = mean!.dataSync();
      const ev = variance!.dataSync();
      for (let c = 0; c < em.length; c++) {
        expect(Math.abs(s.mean[c]! - em[c]!), `${layer} mean ${c}`).toBeLessThan(1e-4 * (1 + Math.abs(em[c]!)));
        expect(Math.abs(s.variance[c]! - ev[c]!), `${layer} variance ${c}`).toBeLessThan(1e-4 * (1 + Math.abs(ev[c]!)));
      }
    }
    await trainer.dispose();
  });

  it('trains: the loss on a fixed batch falls, and the weights it copies back give the tfjs model the same output', async () => {
    const model = buildUNet({ size: null, seed: 4 });
    const trainer = await OnnxTrainer.create(model, { loss: 'mse', lr: 1e-3, threads: 1 });
    const x = randomData(4 * 16 * 16, 7);
    const y = x.map((v) => v * 0.5);
    const losses: number[] = [];
    for (let s = 0; s < 8; s++) losses.push(await trainer.step({ data: x, n: 4, height: 16, width: 16 }, y));
    expect(losses[7]!).toBeLessThan(losses[0]! * 0.5);
    // The copied weights reproduce the trainer's loss through tfjs (training mode: batch statistics).
    trainer.syncToModel();
    const next = await trainer.step({ data: x, n: 4, height: 16, width: 16 }, y);
    const viaTfjs = tf.tidy(() => {
      const p = model.apply(tf.tensor4d(x, [4, 16, 16, 1]), { training: true }) as tf.Tensor;
      return tf.mean(tf.square(tf.sub(p, tf.tensor4d(y, [4, 16, 16, 1])))).dataSync()[0]!;
    });
    expect(next).toBeCloseTo(viaTfjs, 5);
    // Adam's state comes out under tfjs's names and order: iter, every m, every v.
    const names = (await trainer.optimizerWeights()).map((w) => w.name);
    expect(names[0]).toBe('iter');
    // (tfjs suffixes variable names, dconv64/kernel_3, when a process has built several models)
    expect(names[1]).toMatch(/^dconv64\/kernel(_\d+)?\/m$/);
    expect(names[names.length - 1]).toMatch(/^final_conv1\/bias(_\d+)?\/v$/);
    await trainer.dispose();
  });
});
