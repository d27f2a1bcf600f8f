/**
 * The filter objective's variants on both engines: a neuron (one spatial position), negative
 * (minimise), and pre-activation targeting (the `lucid` recipe's rescue for dead starts). tfjs is
 * checked against finite differences, the ONNX graph against tfjs; then the rescue itself: a unit
 * that is zero on the start image comes alive, one that cannot fire stays `dead`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type LayersModel } from '../src/tf.js';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import { OnnxEngine } from '../src/engine/onnx/onnx-engine.js';
import type { Batch, Engine, Objective } from '../src/engine/engine.js';
import { createRng } from '../src/random.js';
import { buildUNet } from '../src/model/unet.js';
import { runFilterJob, type JobOptions } from '../src/ascent/visualize.js';
import { LUCID_DEFAULTS } from '../src/ascent/recipes.js';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { tinyConvNet } from './helpers.js';

function randomBatch(n: number, size: number, seed: number, lo = -1, hi = 1): Batch {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: n * size * size }, () => lo + (hi - lo) * rng.next()), n, height: size, width: size, channels: 1 };
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / Math.max(maxAbs(a), 1e-12);
}

/** One conv layer, kernel of ones: filter 0 has bias -5 (dead on a grey image, can fire), filter 1 bias -20 (never fires on [0, 1] images). */
function deadStartNet(): LayersModel {
  const input = tf.input({ shape: [null, null, 1] });
  const conv = tf.layers.conv2d({
    filters: 2,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
    name: 'c',
    kernelInitializer: 'ones',
    biasInitializer: tf.initializers.constant({ value: 0 }),
  });
  const out = conv.apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const [kernel] = conv.getWeights();
  conv.setWeights([kernel!, tf.tensor1d([-5, -20])]);
  return model;
}

describe('filter objective variants', () => {
  let unet: LayersModel;
  let tfjs: TfjsEngine;
  let onnx: OnnxEngine;
  beforeAll(async () => {
    await selectBackend('cpu');
    unet = buildUNet({ size: null });
    tfjs = new TfjsEngine(unet, { backend: 'cpu', provider: 'test' });
    onnx = new OnnxEngine(unet, { threads: 1 });
  });
  afterAll(() => {
    tfjs?.dispose();
    onnx?.dispose();
  });

  it('tfjs: a neuron objective is the unit at floor(fraction * size), its gradient matches finite differences', async () => {
    const model = tinyConvNet(3, 'tanh');
    const engine = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
    const x = randomBatch(1, 8, 4);
    const neuron: Objective = { kind: 'filter', layer: 'c1', filters: [2], position: { y: 0.5, x: 0.3 } };
    const act = tf.tidy(() => (tf.model({ inputs: model.inputs, outputs: model.getLayer('c1').output as tf.SymbolicTensor }).predict(tf.tensor4d(x.data, [1, 8, 8, 1])) as tf.Tensor).arraySync() as number[][][][]);
    const value = (await engine.evaluate(x, neuron))[0]!;
    expect(value).toBeCloseTo(act[0]![4]![2]![2]!, 5); // y = floor(0.5 * 8), x = floor(0.3 * 8)
    const { gradient } = await engine.gradient(x, neuron, 'none');
    // Only the 3x3 receptive field of that unit has a gradient.
    const nonzero = [...gradient.keys()].filter((i) => gradient[i] !== 0).map((i) => [Math.floor(i / 8), i % 8]);
    expect(nonzero.length).toBeGreaterThan(0);
    for (const [y, xx] of nonzero) expect(Math.abs(y! - 4) <= 1 && Math.abs(xx! - 2) <= 1).toBe(true);
    for (const p of [3 * 8 + 1, 4 * 8 + 2, 5 * 8 + 3]) {
      const h = 1e-2;
      const plus = { ...x, data: Float32Array.from(x.data) };
      const minus = { ...x, data: Float32Array.from(x.data) };
      plus.data[p]! += h;
      minus.data[p]! -= h;
      const fd = ((await engine.evaluate(plus, neuron))[0]! - (await engine.evaluate(minus, neuron))[0]!) / (2 * h);
      expect(Math.abs(fd - gradient[p]!)).toBeLessThan(2e-3 * maxAbs(gradient) + 1e-6);
    }
    const negative = await engine.gradient(x, { ...neuron, negative: true }, 'none');
    expect(negative.values[0]).toBeCloseTo(-value, 6);
    for (let i = 0; i < gradient.length; i++) expect(negative.gradient[i]! + gradient[i]!).toBe(0);
    engine.dispose();
  });

  // One image per call: tfjs' cpu ResizeNearestNeighborGrad misplaces the gradient of batch images
  // after the first (found here; the U-Net's UpSampling2D uses it), so batches would test tfjs' bug.
  const x = randomBatch(1, 32, 2019, 0, 2);
  const cases: [string, Objective][] = [
    ['neuron at the centre, uconv128', { kind: 'filter', layer: 'uconv128', filters: [7], position: { y: 0.5, x: 0.5 } }],
    ['neuron off-centre, dconv128', { kind: 'filter', layer: 'dconv128', filters: [7], position: { y: 0.3, x: 0.8 } }],
    ['negative channel mean, dconv128', { kind: 'filter', layer: 'dconv128', filters: [5], negative: true }],
    ['pre-activation, conv512', { kind: 'filter', layer: 'conv512', filters: [0], preActivation: true }],
    ['pre-activation neuron, minimised, dconv64', { kind: 'filter', layer: 'dconv64', filters: [4], preActivation: true, position: { y: 0.7, x: 0.1 }, negative: true }],
  ];
  for (const [name, objective] of cases) {
    it(`ONNX equals tfjs: ${name}`, async () => {
      const a = await tfjs.gradient(x, objective, 'none');
      const b = await onnx.gradient(x, objective, 'none');
      expect(maxAbs(a.gradient), 'a zero gradient would test nothing').toBeGreaterThan(0);
      expect(relDiff(a.values, b.values)).toBeLessThan(1e-4);
      expect(relDiff(a.gradient, b.gradient)).toBeLessThan(1e-4);
      const values = await onnx.evaluate(x, objective);
      expect(relDiff(a.values, values)).toBeLessThan(1e-4);
    });
  }

  it('pre-activation values are the layer before its ReLU: ReLU of them is the usual objective at a unit', async () => {
    const at = { y: 0.5, x: 0.5 };
    for (const filter of [0, 1, 2, 3]) {
      const pre = await onnx.evaluate(x, { kind: 'filter', layer: 'conv512', filters: [filter], preActivation: true, position: at });
      const post = await onnx.evaluate(x, { kind: 'filter', layer: 'conv512', filters: [filter], position: at });
      expect(post[0]).toBeCloseTo(Math.max(0, pre[0]!), 5);
    }
  });
});

describe('the lucid recipe on both engines', () => {
  let model: LayersModel;
  const engines: Record<string, Engine> = {};
  beforeAll(async () => {
    await selectBackend('cpu');
    model = deadStartNet();
    engines.tfjs = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
    engines.onnx = new OnnxEngine(model, { threads: 1 });
  });
  afterAll(() => Object.values(engines).forEach((e) => e.dispose()));

  async function run(engine: Engine, rescueSteps: number, filters = [0, 1], steps = 24) {
    const options: JobOptions = {
      init: await prepareInit(parseInit('uniform:0:2'), { acceleration: 4, center: 0.08 }),
      size: 16,
      steps,
      step: 0.05,
      normalize: 'none',
      seed: 3,
      spectral: { ...LUCID_DEFAULTS, pad: 4, jitter: 2, rescueSteps },
      divisor: 1,
    };
    return runFilterJob(engine, 1, options, { layer: 'c', filters });
  }

  it('the start image is grey enough that filter 0 is zero everywhere (dead at the start)', async () => {
    const [r] = await run(engines.onnx!, 0, [0], 0);
    expect(r!.activation.start).toBe(0);
    expect(Math.max(...r!.image)).toBeLessThan(0.6);
  });

  for (const name of ['tfjs', 'onnx']) {
    it(`${name}: pre-activation steps revive filter 0; filter 1 cannot fire and is reported dead`, async () => {
      const [revived, never] = await run(engines[name]!, 8);
      expect(revived!.activation.start).toBe(0);
      expect(revived!.activation.end).toBeGreaterThan(0.5);
      expect(revived!.dead).toBe(false);
      expect(never!.activation.end).toBe(0);
      expect(never!.dead).toBe(true);
    });

    it(`${name}: without the rescue, filter 0 never moves and is dead`, async () => {
      const [r] = await run(engines[name]!, 0, [0]);
      expect(r!.activation.end).toBe(0);
      expect(r!.dead).toBe(true);
    });
  }

  it('the two engines give the same lucid images (same transforms, same Adam steps)', async () => {
    const [a] = await run(engines.tfjs!, 8, [0]);
    const [b] = await run(engines.onnx!, 8, [0]);
    expect(relDiff(a!.image, b!.image)).toBeLessThan(1e-3);
    expect(a!.activation.end).toBeCloseTo(b!.activation.end, 2);
  });
});
