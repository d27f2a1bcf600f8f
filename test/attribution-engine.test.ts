/**
 * The Engine additions behind `activations` and `attribute`, ONNX against tfjs ('cpu' backend, tfjs'
 * own gradients) on the seed's U-Net: feature maps, region objectives (values and input gradients, with
 * a finite-difference check of tfjs itself) and gradients at a layer's activations (Grad-CAM).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type LayersModel } from '../src/tf.js';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import { OnnxEngine } from '../src/engine/onnx/index.js';
import type { Batch, Objective } from '../src/engine/engine.js';
import { createRng } from '../src/random.js';
import { buildUNet } from '../src/model/unet.js';

function randomBatch(n: number, h: number, w: number, seed: number): Batch {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: n * h * w }, () => rng.next()), n, height: h, width: w, channels: 1 };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let m = 0;
  a.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[i]!))));
  return m;
}

let model: LayersModel;
let tfjs: TfjsEngine;
let onnx: OnnxEngine;

beforeAll(async () => {
  await selectBackend('cpu');
  model = buildUNet({ size: null, seed: 11 });
  tfjs = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
  onnx = new OnnxEngine(model, { threads: 2 });
});
afterAll(() => {
  tfjs.dispose();
  onnx.dispose();
});

describe('Engine.activations', () => {
  it('equals model.predict of the model truncated at each layer, on both engines', async () => {
    const x = randomBatch(2, 32, 24, 1);
    const layers = ['dconv64', 'conv512', 'uconv128', 'final_conv1'];
    const truncated = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor) });
    const direct = tf.tidy(() => (truncated.predict(tf.tensor4d(x.data, [2, 32, 24, 1])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array));
    for (const engine of [tfjs, onnx]) {
      const maps = await engine.activations(x, layers);
      expect(maps.map((m) => [m.n, m.height, m.width, m.channels])).toEqual([
        [2, 32, 24, 64],
        [2, 4, 3, 512],
        [2, 16, 12, 128],
        [2, 32, 24, 1],
      ]);
      maps.forEach((m, i) => {
        expect(maxAbs(direct[i]!)).toBeGreaterThan(0);
        expect(maxDiff(direct[i]!, m.data), `${engine.info.engine} ${layers[i]}`).toBeLessThan(1e-4 * maxAbs(direct[i]!));
      });
    }
  });
});

describe('region objective', () => {
  const box = [5, 3, 17, 11] as const;
  const region: Objective = { kind: 'region', layer: 'final_conv1', box };
  const whole: Objective = { kind: 'region', layer: 'final_conv1' };

  it('is the output summed over the box, with the same value and input gradient on both engines', async () => {
    // Values on a batch of two; gradients compared per image (see the batch test below).
    const x = randomBatch(2, 32, 24, 2);
    const out = tf.tidy(() => (model.predict(tf.tensor4d(x.data, [2, 32, 24, 1])) as tf.Tensor).dataSync() as Float32Array);
    const expected = [0, 1].map((n) => {
      let s = 0;
      for (let y = box[1]; y < box[3]; y++) for (let xx = box[0]; xx < box[2]; xx++) s += out[(n * 32 + y) * 24 + xx]!;
      return s;
    });
    let sumAll = 0;
    for (let i = 0; i < 32 * 24; i++) sumAll += out[i]!;
    for (const engine of [tfjs, onnx]) {
      const v = await engine.evaluate(x, region);
      expected.forEach((e, n) => expect(v[n]!).toBeCloseTo(e, 3));
      expect((await engine.evaluate(x, whole))[0]!).toBeCloseTo(sumAll, 2);
    }
    const one = { ...x, n: 1, data: x.data.slice(0, 32 * 24) };
    for (const objective of [region, whole]) {
      const a = await tfjs.gradient(one, objective, 'none');
      const b = await onnx.gradient(one, objective, 'none');
      expect(maxAbs(a.gradient)).toBeGreaterThan(0);
      expect(maxDiff(a.gradient, b.gradient)).toBeLessThan(1e-4 * maxAbs(a.gradient));
    }
  });

  it('gives each image of an ONNX batch its own gradient (what SmoothGrad and IG batches rely on)', async () => {
    // Compared with single-image runs, not with tfjs: tfjs' gradient of the second image of a batch
    // differs from its single-image gradient on the 'cpu' backend (measured 0.1 of max |g| at 2x16x16).
    const x = randomBatch(3, 16, 16, 7);
    const batch = await onnx.gradient(x, region, 'none');
    for (let i = 0; i < 3; i++) {
      const single = await onnx.gradient({ ...x, n: 1, data: x.data.slice(i * 256, (i + 1) * 256) }, region, 'none');
      expect(maxDiff(single.gradient, batch.gradient.slice(i * 256, (i + 1) * 256))).toBeLessThan(1e-5 * maxAbs(single.gradient));
    }
  });

  it("the ONNX region gradient matches central finite differences of tfjs' forward pass", async () => {
    const x = randomBatch(1, 16, 16, 3);
    const small: Objective = { kind: 'region', layer: 'final_conv1', box: [4, 4, 10, 9] };
    const g = (await onnx.gradient(x, small, 'none')).gradient;
    const h = 1e-3;
    const rng = createRng(5);
    const picks = Array.from({ length: 12 }, () => rng.int(256));
    const plus = { ...x, n: picks.length, data: new Float32Array(picks.length * 256) };
    picks.forEach((p, i) => plus.data.set(x.data, i * 256));
    const minus = { ...plus, data: plus.data.slice() };
    picks.forEach((p, i) => {
      plus.data[i * 256 + p]! += h;
      minus.data[i * 256 + p]! -= h;
    });
    const [vp, vm] = [await tfjs.evaluate(plus, small), await tfjs.evaluate(minus, small)];
    const scale = maxAbs(g);
    picks.forEach((p, i) => expect(Math.abs((vp[i]! - vm[i]!) / (2 * h) - g[p]!)).toBeLessThan(2e-2 * scale));
  });
});

describe('Engine.layerGradient', () => {
  it('agrees between engines', async () => {
    const x = randomBatch(1, 32, 32, 4);
    for (const [objective, layer] of [
      [{ kind: 'region', layer: 'final_conv1', box: [8, 8, 20, 16] }, 'uconv128'],
      [{ kind: 'filter', layer: 'uconv64', filters: [3] }, 'dconv128'],
    ] as [Objective, string][]) {
      const a = await tfjs.layerGradient(x, objective, layer);
      const b = await onnx.layerGradient(x, objective, layer);
      expect([b.activations.n, b.activations.height, b.activations.width, b.activations.channels]).toEqual([a.activations.n, a.activations.height, a.activations.width, a.activations.channels]);
      expect(maxDiff(a.activations.data, b.activations.data)).toBeLessThan(1e-4 * maxAbs(a.activations.data));
      expect(maxAbs(a.gradient.data), `${layer} gradient is not all zero`).toBeGreaterThan(0);
      expect(maxDiff(a.gradient.data, b.gradient.data), `${layer} gradient`).toBeLessThan(1e-4 * maxAbs(a.gradient.data));
      a.values.forEach((v, i) => expect(b.values[i]!).toBeCloseTo(v, 3));
    }
  });

  it('refuses a layer that does not feed the target', async () => {
    const x = randomBatch(1, 16, 16, 6);
    const objective: Objective = { kind: 'filter', layer: 'dconv64', filters: [0] };
    await expect(onnx.layerGradient(x, objective, 'uconv64')).rejects.toThrow(/does not feed dconv64/);
    await expect(tfjs.layerGradient(x, objective, 'uconv64')).rejects.toThrow(/does not feed dconv64/);
  });
});
