import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import type { Batch, Objective } from '../src/engine/engine.js';
import { createRng } from '../src/random.js';
import { tinyConvNet } from './helpers.js';

function randomBatch(n: number, size: number, seed: number): Batch {
  const rng = createRng(seed);
  const data = new Float32Array(n * size * size);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
  return { data, n, height: size, width: size, channels: 1 };
}

/** Central differences of the objective at a few pixels against the engine's raw gradient. */
async function expectFiniteDifferences(engine: TfjsEngine, x: Batch, objective: Objective, pixels: number[]): Promise<void> {
  const { gradient } = await engine.gradient(x, objective, 'none');
  const maxG = Math.max(...Array.from(gradient, Math.abs));
  const h = 1e-2;
  for (const pixel of pixels) {
    const plus = { ...x, data: Float32Array.from(x.data) };
    const minus = { ...x, data: Float32Array.from(x.data) };
    plus.data[pixel]! += h;
    minus.data[pixel]! -= h;
    const fd = ((await engine.evaluate(plus, objective))[0]! - (await engine.evaluate(minus, objective))[0]!) / (2 * h);
    expect(Math.abs(fd - gradient[pixel]!), `pixel ${pixel}`).toBeLessThan(2e-3 * maxG + 1e-5);
  }
}

describe('tfjs engine', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('input gradient of a filter objective matches central finite differences', async () => {
    // tanh keeps the objective smooth, so finite differences are meaningful everywhere.
    const engine = new TfjsEngine(tinyConvNet(3, 'tanh'), { backend: 'cpu', provider: 'test' });
    const x = randomBatch(1, 8, 11);
    const objective: Objective = { kind: 'filter', layer: 'c2', filters: [1] };
    const { values } = await engine.gradient(x, objective, 'none');
    expect(values[0]).toBeCloseTo((await engine.evaluate(x, objective))[0]!, 6);
    await expectFiniteDifferences(engine, x, objective, [0, 9, 18, 27, 36, 45, 54, 63]);
    engine.dispose();
  });

  it('layer objectives (mean and l2, weighted) match finite differences', async () => {
    const engine = new TfjsEngine(tinyConvNet(5, 'tanh'), { backend: 'cpu', provider: 'test' });
    const x = randomBatch(1, 8, 12);
    const objective: Objective = { kind: 'layers', terms: [{ layer: 'c1', weight: 1, reduce: 'mean' }, { layer: 'c2', weight: 0.5, reduce: 'l2' }] };
    await expectFiniteDifferences(engine, x, objective, [3, 20, 41, 60]);
    engine.dispose();
  });

  it('normalises each image of a batch by its own RMS, as the seed does', async () => {
    const engine = new TfjsEngine(tinyConvNet(), { backend: 'cpu', provider: 'test' });
    const x = randomBatch(3, 8, 13);
    const objective: Objective = { kind: 'filter', layer: 'c2', filters: [0, 1, 2] };
    const raw = await engine.gradient(x, objective, 'none');
    const normed = await engine.gradient(x, objective, 'rms');
    const pixels = 64;
    for (let i = 0; i < 3; i++) {
      const g = raw.gradient.subarray(i * pixels, (i + 1) * pixels);
      const rms = Math.sqrt(g.reduce((s, v) => s + v * v, 0) / pixels);
      for (let p = 0; p < pixels; p += 7) {
        expect(normed.gradient[i * pixels + p]).toBeCloseTo(g[p]! / (rms + 1e-5), 4);
      }
    }
    engine.dispose();
  });

  it('a batch of filters gives the same values and gradients as one filter at a time', async () => {
    const engine = new TfjsEngine(tinyConvNet(), { backend: 'cpu', provider: 'test' });
    const x = randomBatch(3, 8, 14);
    const batched = await engine.gradient(x, { kind: 'filter', layer: 'c2', filters: [2, 0, 1] }, 'rms');
    for (let i = 0; i < 3; i++) {
      const one: Batch = { ...x, n: 1, data: x.data.slice(i * 64, (i + 1) * 64) };
      const single = await engine.gradient(one, { kind: 'filter', layer: 'c2', filters: [[2, 0, 1][i]!] }, 'rms');
      expect(batched.values[i]).toBeCloseTo(single.values[0]!, 5);
      const diff = Math.max(...Array.from(single.gradient, (v, p) => Math.abs(v - batched.gradient[i * 64 + p]!)));
      expect(diff).toBeLessThan(1e-4);
    }
    engine.dispose();
  });

  it('does not leak tensors across many gradient calls', async () => {
    const engine = new TfjsEngine(tinyConvNet(), { backend: 'cpu', provider: 'test' });
    const x = randomBatch(2, 8, 15);
    const objective: Objective = { kind: 'filter', layer: 'c2', filters: [0, 1] };
    for (let i = 0; i < 10; i++) await engine.gradient(x, objective, 'rms');
    const after10 = tf.memory().numTensors;
    for (let i = 0; i < 190; i++) await engine.gradient(x, objective, 'rms');
    expect(tf.memory().numTensors).toBe(after10);
    engine.dispose();
  });

  it('names the valid layers when the objective targets an unknown one', async () => {
    const engine = new TfjsEngine(tinyConvNet(), { backend: 'cpu', provider: 'test' });
    await expect(engine.evaluate(randomBatch(1, 8, 1), { kind: 'filter', layer: 'nope', filters: [0] })).rejects.toThrow(/unknown layer "nope".*c1, bn, pool, c2/);
    engine.dispose();
  });
});
