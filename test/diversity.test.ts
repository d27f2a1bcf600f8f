/**
 * The diversity objective: the Gram-matrix penalty's gradient against finite differences, the
 * weighted objective that carries it back to the input on both engines (against each other and
 * finite differences), and what it is for: with the penalty, a filter's images end further apart
 * (mean pairwise Gram distance) than without it, from the same starts and transforms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import { OnnxEngine } from '../src/engine/onnx/onnx-engine.js';
import type { Batch, Engine, LayerMaps } from '../src/engine/engine.js';
import { createRng } from '../src/random.js';
import { diverseStep, gramDiversity } from '../src/ascent/diversity.js';
import { checkDiversity, runFilterJob, type JobOptions } from '../src/ascent/visualize.js';
import { LUCID_DEFAULTS } from '../src/ascent/recipes.js';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import sharp from 'sharp';
import path from 'node:path';
import { tempDir, tinyConvNet } from './helpers.js';

function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('Gram-matrix diversity penalty', () => {
  // 2 groups of 3 images, 4x5 positions, 6 channels; half the activations zero, as after a ReLU.
  const shape = { n: 6, height: 4, width: 5, channels: 6 };
  const data = randomArray(6 * 4 * 5 * 6, 3, -0.5, 1).map((v) => Math.max(0, v));
  const maps: LayerMaps = { data, ...shape };

  it('gradient matches central differences of the penalty', () => {
    const { penalty, gradient } = gramDiversity(maps, 3);
    expect(penalty).toBeGreaterThan(0);
    const scale = maxAbs(gradient);
    expect(scale, 'a zero gradient would test nothing').toBeGreaterThan(0);
    for (const i of [0, 7, 33, 120, 121, 250, 399, 480, 600, 719]) {
      const h = 1e-3;
      const plus = Float32Array.from(data);
      const minus = Float32Array.from(data);
      plus[i]! += h;
      minus[i]! -= h;
      const fd = (gramDiversity({ ...maps, data: plus }, 3).penalty - gramDiversity({ ...maps, data: minus }, 3).penalty) / (2 * h);
      expect(Math.abs(fd - gradient[i]!), `coordinate ${i}: finite difference ${fd}, gradient ${gradient[i]}`).toBeLessThan(2e-3 * scale + 1e-6);
    }
  });

  it('identical images are at distance 0, and the penalty is then (N - 1) per group', () => {
    const one = data.slice(0, 4 * 5 * 6);
    const same: LayerMaps = { data: new Float32Array(3 * one.length), ...shape, n: 3 };
    for (let k = 0; k < 3; k++) same.data.set(one, k * one.length);
    const d = gramDiversity(same, 3);
    expect(d.meanDistance[0]).toBeCloseTo(0, 6);
    expect(d.penalty).toBeCloseTo(2, 6);
    // Groups do not see each other: a second group changes nothing of the first's distance.
    const two = gramDiversity(maps, 3);
    const first = gramDiversity({ ...maps, n: 3, data: data.slice(0, 3 * one.length) }, 3);
    expect(two.meanDistance[0]).toBeCloseTo(first.meanDistance[0]!, 10);
  });

  it('images on disjoint channels share nothing: distance 1', () => {
    const d = gramDiversity({ n: 2, height: 1, width: 2, channels: 2, data: Float32Array.from([1, 0, 2, 0, 0, 3, 0, 1]) }, 2);
    expect(d.meanDistance[0]).toBeCloseTo(1, 10);
  });
});

describe('weighted objective (the penalty carried back to the input) on both engines', () => {
  const model = tinyConvNet(5, 'tanh');
  let tfjs: TfjsEngine;
  let onnx: OnnxEngine;
  beforeAll(async () => {
    await selectBackend('cpu');
    tfjs = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
    onnx = new OnnxEngine(model, { threads: 1 });
  });
  afterAll(() => {
    tfjs?.dispose();
    onnx?.dispose();
  });

  it('a diverse step\'s values are the filter objective\'s own (mean, neuron, negative), and weight 0 gives its gradient', async () => {
    const x: Batch = { data: randomArray(4 * 8 * 8, 21, 0, 1), n: 4, height: 8, width: 8, channels: 1 };
    for (const extra of [{}, { position: { y: 0.5, x: 0.25 } }, { negative: true }]) {
      const objective = { kind: 'filter' as const, layer: 'c2', filters: [0, 0, 2, 2], ...extra };
      const step = await diverseStep(onnx, x, objective, { copies: 2, weight: 0 });
      const plain = await onnx.gradient(x, objective, 'none');
      for (let b = 0; b < 4; b++) expect(step.values[b]).toBeCloseTo(plain.values[b]!, 5);
      const scale = maxAbs(plain.gradient);
      for (let i = 0; i < plain.gradient.length; i++) expect(Math.abs(step.gradient[i]! - plain.gradient[i]!)).toBeLessThan(1e-4 * scale);
      expect(step.meanDistance).toHaveLength(2);
    }
  });

  for (const layer of ['c1', 'c2']) {
    it(`${layer}: value is sum(weights * activations); ONNX equals tfjs; tfjs matches finite differences`, async () => {
      const x: Batch = { data: randomArray(2 * 8 * 8, 11, 0, 1), n: 2, height: 8, width: 8, channels: 1 };
      const [maps] = await tfjs.activations(x, [layer]);
      const weights: LayerMaps = { ...maps!, data: randomArray(maps!.data.length, 12) };
      const objective = { kind: 'weighted' as const, layer, weights };
      const a = await tfjs.gradient(x, objective, 'none');
      const b = await onnx.gradient(x, objective, 'none');
      const per = maps!.data.length / 2;
      for (let i = 0; i < 2; i++) {
        let s = 0;
        for (let k = i * per; k < (i + 1) * per; k++) s += weights.data[k]! * maps!.data[k]!;
        expect(a.values[i]).toBeCloseTo(s, 4);
        expect(b.values[i]).toBeCloseTo(s, 4);
      }
      const scale = maxAbs(a.gradient);
      expect(scale).toBeGreaterThan(0);
      for (let i = 0; i < a.gradient.length; i++) expect(Math.abs(a.gradient[i]! - b.gradient[i]!)).toBeLessThan(1e-4 * scale);
      for (const p of [0, 9, 27, 64 + 18, 64 + 63]) {
        const h = 1e-2;
        const plus = { ...x, data: Float32Array.from(x.data) };
        const minus = { ...x, data: Float32Array.from(x.data) };
        plus.data[p]! += h;
        minus.data[p]! -= h;
        const image = Math.floor(p / 64);
        const fd = ((await tfjs.evaluate(plus, objective))[image]! - (await tfjs.evaluate(minus, objective))[image]!) / (2 * h);
        expect(Math.abs(fd - a.gradient[p]!)).toBeLessThan(3e-3 * scale + 1e-6);
      }
    });
  }
});

describe('diversity through the lucid ascent', () => {
  const model = tinyConvNet(9, 'relu');
  const engines: Record<string, Engine> = {};
  beforeAll(async () => {
    await selectBackend('cpu');
    engines.tfjs = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
    engines.onnx = new OnnxEngine(model, { threads: 1 });
  });
  afterAll(() => Object.values(engines).forEach((e) => e.dispose()));

  async function run(engine: Engine, weight: number) {
    const options: JobOptions = {
      init: await prepareInit(parseInit('uniform:0:2'), { acceleration: 4, center: 0.08 }),
      size: 16,
      steps: 24,
      step: 0.05,
      normalize: 'none',
      seed: 5,
      spectral: { ...LUCID_DEFAULTS, pad: 2, jitter: 1, rescueSteps: 0 },
      divisor: 2,
      diversity: { copies: 3, weight },
    };
    return runFilterJob(engine, 1, options, { layer: 'c1', filters: [0, 2] });
  }

  for (const name of ['tfjs', 'onnx']) {
    it(`${name}: with the penalty, each filter's 3 images end further apart than without, from the same starts`, async () => {
      const without = await run(engines[name]!, 0);
      const withPenalty = await run(engines[name]!, 100);
      for (const [i, r] of withPenalty.entries()) {
        expect(r.diversity!.images).toHaveLength(3);
        expect(r.diversity!.images[0]).toEqual(r.image);
        expect(r.dead).toBe(false);
        // Measured: about 0.0001 without, 0.009-0.011 with (Gram matrices of 4 channels, 24 steps).
        expect(r.diversity!.meanDistance, `filter ${r.filter}`).toBeGreaterThan(10 * without[i]!.diversity!.meanDistance);
        expect(r.diversity!.meanDistance).toBeGreaterThan(0.005);
      }
      // Without the penalty the copies still differ (own starts and transforms), just less.
      expect(without[0]!.diversity!.images[1]).not.toEqual(without[0]!.diversity!.images[0]);
    });
  }

  it('the two engines give the same diverse images', async () => {
    const [a] = await run(engines.tfjs!, 100);
    const [b] = await run(engines.onnx!, 100);
    for (let k = 0; k < 3; k++) {
      const x = a!.diversity!.images[k]!;
      const y = b!.diversity!.images[k]!;
      let d = 0;
      for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
      expect(d).toBeLessThan(1e-3);
    }
  });

  it('the seed recipe refuses diversity with a one-line error naming the option', () => {
    expect(() => checkDiversity({ diversity: { copies: 4, weight: 1 } })).toThrow(/^diversity: N images per filter needs a spectral recipe \(lucid\)/);
    expect(checkDiversity({ diversity: { copies: 1, weight: 1 } })).toBe(1);
  });
});

describe('diversity through the filters pipeline', () => {
  it('records each filter\'s images, distance and tiles; the sheet has a row per filter', async () => {
    const out = tempDir();
    const manifest = await runPipeline(
      validatePipeline({
        model: { source: 'builtin', backend: 'onnx', threads: 1 },
        seed: { size: 16 },
        ascend: { recipe: 'lucid', layers: ['dconv64'], filters: '0-1', steps: 10, diversity: 3, lucid: { rescueSteps: 2 } },
        write: { out },
      }),
      { command: 'test' },
    );
    const results = manifest.results as { filter: number; rect: { x: number; y: number }; diversity: { images: number; weight: number; meanGramDistance: number; ends: number[]; rects: { x: number; y: number }[] } }[];
    expect(results.map((r) => r.filter)).toEqual([0, 1]);
    for (const r of results) {
      expect(r.diversity.images).toBe(3);
      expect(r.diversity.weight).toBe(100);
      expect(r.diversity.ends).toHaveLength(3);
      expect(r.diversity.meanGramDistance).toBeGreaterThan(0);
      expect(r.diversity.meanGramDistance).toBeLessThanOrEqual(1);
      // A row per filter: the three tiles share a y, left to right, and the first is the record's rect.
      expect(new Set(r.diversity.rects.map((t) => t.y)).size).toBe(1);
      expect(r.diversity.rects[0]).toMatchObject(r.rect);
      expect(r.diversity.rects[1]!.x).toBeGreaterThan(r.diversity.rects[0]!.x);
    }
    expect(results[1]!.rect.y).toBeGreaterThan(results[0]!.rect.y);
    const sheet = await sharp(path.join(out, 'dconv64.png')).metadata();
    expect(sheet.width).toBeGreaterThan(results[0]!.diversity.rects[2]!.x);
  }, 300_000);

  it('the seed recipe with --diversity is refused before anything runs, at its path', () => {
    expect(() => validatePipeline({ ascend: { recipe: 'seed', diversity: 3 } })).toThrow(/ascend\.diversity.*spectral recipe/);
    expect(() => validatePipeline({ ascend: { recipe: 'lucid', diversity: 0 } })).toThrow(/ascend\.diversity/);
  });
});
