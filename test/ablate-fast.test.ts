import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { LayerAblator } from '../src/ablate/ablate.js';
import { planAblation } from '../src/ablate/plan.js';
import { ForwardRunner } from '../src/dissect/forward-graph.js';
import { buildUNet } from '../src/model/unet.js';
import { createRng } from '../src/mri/index.js';
import { tf, type LayersModel } from '../src/tf.js';
import type { PairSet } from '../src/dissect/data.js';
import { plantedModel, plantedPairs } from './dissect-helpers.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

/** The slow reference: the filter's kernel and bias set to zero, the whole network run from the input. */
async function zeroedForward(model: LayersModel, layer: string, filter: number, pairs: PairSet): Promise<Float32Array> {
  const conv = model.getLayer(layer);
  const original = conv.getWeights().map((w) => w.clone());
  const [k, b] = original;
  const kernel = k!.arraySync() as number[][][][];
  for (const row of kernel) for (const col of row) for (const cin of col) cin[filter] = 0;
  const bias = b!.arraySync() as number[];
  bias[filter] = 0;
  conv.setWeights([tf.tensor4d(kernel), tf.tensor1d(bias)]);
  const output = model.outputs[0]!.sourceLayer.name;
  const runner = await ForwardRunner.create(model, { outputs: [output] }, 1);
  try {
    const { size, n } = pairs;
    return (await runner.run({ input: { data: pairs.inputs, dims: [n, size, size, 1] } }))[output]!.data;
  } finally {
    await runner.dispose();
    conv.setWeights(original);
  }
}

async function allOutputs(ablator: LayerAblator, filter: number, n: number, batch: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let first = 0; first < n; first += batch) parts.push(Float32Array.from(await ablator.outputs(filter, first, Math.min(batch, n - first))));
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The seed U-Net at 32x32 with random BatchNorm statistics, so every BatchNorm scale differs from 1. */
function smallUNet(): LayersModel {
  const model = buildUNet({ size: 32, seed: 7 });
  const rng = createRng(11);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const c = layer.getWeights()[0]!.shape[0]!;
    const v = (lo: number, hi: number) => tf.tensor1d(Array.from({ length: c }, () => lo + (hi - lo) * rng.next()));
    layer.setWeights([v(0.5, 2), v(-0.3, 0.3), v(-0.1, 0.1), v(0.2, 1.5)]);
  }
  return model;
}

function unetPairs(n: number): PairSet {
  const rng = createRng(5);
  const inputs = Float32Array.from({ length: n * 32 * 32 }, () => rng.next());
  return { inputs, targets: inputs.map((v) => 0.9 * v), n, size: 32, names: [], failed: [] };
}

describe('fast ablation equals zeroed weights and a full forward pass', () => {
  it('plans the delta shortcut for decoder layers and the masked part for encoder layers', () => {
    const unet = smallUNet();
    const plan = planAblation(unet, 'uconv128');
    expect(plan.kind).toBe('delta');
    if (plan.kind === 'delta') {
      expect(plan.routes.map((r) => [r.conv, r.offset, r.route])).toEqual([['uconv64', 0, ['up_sampling2d_9']]]);
      expect(plan.frontier).toEqual([]);
    }
    const conv512 = planAblation(unet, 'conv512');
    expect(conv512.kind === 'delta' && conv512.routes.map((r) => r.conv)).toEqual(['uconv256']);
    expect(conv512.frontier.sort()).toEqual(['conv128_1', 'conv64_1']);
    const dconv128 = planAblation(unet, 'dconv128');
    expect(dconv128.kind).toBe('masked');
    expect(dconv128.kind === 'masked' && dconv128.reason).toMatch(/max_pooling2d_6 \(MaxPooling2D\) is not a channel-wise linear layer/);
    expect(planAblation(unet, 'final_conv1').kind).toBe('masked');
    expect(planAblation(plantedModel(), 'c2').kind).toBe('delta');
    expect(planAblation(plantedModel(), 'c1').kind).toBe('masked');
  });

  it('on the planted model, every filter of every layer, both plans, to 1e-5', async () => {
    const model = plantedModel();
    const pairs = plantedPairs(6, 4);
    for (const layer of ['c1', 'c2', 'c3']) {
      for (const method of ['auto', 'masked'] as const) {
        const ablator = await LayerAblator.create(model, pairs, layer, { batch: 4, threads: 1, method });
        try {
          for (let f = 0; f < ablator.channels; f++) {
            const fast = await allOutputs(ablator, f, pairs.n, 4);
            const slow = await zeroedForward(model, layer, f, pairs);
            expect(maxAbsDiff(fast, slow), `${layer} #${f} ${ablator.plan.kind}`).toBeLessThan(1e-5);
          }
        } finally {
          await ablator.dispose();
        }
      }
    }
  });

  it('on the seed U-Net (32x32, random BatchNorm): delta layers through BatchNorm, upsampling and skip concatenations, to 1e-5', async () => {
    const model = smallUNet();
    const pairs = unetPairs(3);
    for (const layer of ['conv512', 'uconv256', 'uconv128', 'uconv64', 'econv64']) {
      const ablator = await LayerAblator.create(model, pairs, layer, { batch: 2, threads: 1 });
      try {
        expect(ablator.plan.kind).toBe('delta');
        let scale = 0;
        for (const f of [0, 5, ablator.channels - 1]) {
          const fast = await allOutputs(ablator, f, pairs.n, 2);
          const slow = await zeroedForward(model, layer, f, pairs);
          for (const v of slow) scale = Math.max(scale, Math.abs(v));
          expect(maxAbsDiff(fast, slow), `${layer} #${f}`).toBeLessThan(1e-5 * Math.max(1, scale));
        }
        // The zeroed filter changes the output: the comparison is not between two intact networks.
        const intactOut = await ablator.outputs(undefined, 0, pairs.n);
        expect(maxAbsDiff(Float32Array.from(intactOut), await allOutputs(ablator, 5, pairs.n, 2))).toBeGreaterThan(1e-4);
      } finally {
        await ablator.dispose();
      }
    }
  }, 120_000);
});
