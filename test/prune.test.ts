import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf } from '../src/tf.js';
import { pruneFilters, countParams, prunableLayers } from '../src/prune/surgery.js';
import { selectFilters, parseKeep } from '../src/prune/select.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { loadModel } from '../src/model/load.js';
import { predictImages } from '../src/train/evaluate.js';
import { ForwardRunner } from '../src/dissect/forward-graph.js';
import { createOnnxEngine } from '../src/engine/onnx/index.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import { buildUNet } from '../src/model/unet.js';
import { trainUNet } from '../src/train/train.js';
import { DEAD_FILTER, plantedModel, plantedPairs, SIZE } from './dissect-helpers.js';
import { tempDir } from './helpers.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

const predict = (model: tf.LayersModel, x: Float32Array, n: number) => predictImages(model, x, n, SIZE, SIZE, false);

describe('pruning surgery', () => {
  it('removing a dead filter leaves the outputs bit-identical and drops exactly its parameters', async () => {
    const model = plantedModel();
    const { inputs, n } = plantedPairs(8, 11);
    const { model: pruned, report } = await pruneFilters(model, { [DEAD_FILTER.layer]: [DEAD_FILTER.filter] });
    expect([...predict(pruned, inputs, n)]).toEqual([...predict(model, inputs, n)]);
    // c2 loses one 3x3x4 kernel and its bias; c3 loses that input channel of its 3x3 kernels (3 filters).
    expect(report.paramsBefore - report.paramsAfter).toBe(3 * 3 * 4 + 1 + 3 * 3 * 3);
    expect(report.paramsAfter).toBe(countParams(pruned));
    expect(report.folded).toEqual([]);
    expect(pruned.getLayer('c2').getWeights()[0]!.shape).toEqual([3, 3, 4, 3]);
    expect(pruned.getLayer('c3').getWeights()[0]!.shape).toEqual([3, 3, 7, 3]);
  });

  it('removing a live filter behind BatchNorm equals zeroing it, away from the zero-padded border', async () => {
    const model = plantedModel();
    const { inputs, n } = plantedPairs(4, 13);
    const f = 1;
    const { model: pruned, report } = await pruneFilters(model, { c1: [f] });
    // bn1 feeds c2 (through pool) and c3 (through cat): both absorb BN(0) into their bias.
    expect(report.folded.sort()).toEqual(['c2', 'c3']);
    expect(pruned.getLayer('bn1').getWeights()[0]!.shape).toEqual([3]);
    expect(pruned.getLayer('c3').getWeights()[0]!.shape).toEqual([3, 3, 7, 3]);
    const [k, b] = model.getLayer('c1').getWeights();
    const kernel = k!.arraySync() as number[][][][];
    for (const row of kernel) for (const col of row) col[0]![f] = 0;
    const bias = b!.arraySync() as number[];
    bias[f] = 0;
    model.getLayer('c1').setWeights([tf.tensor4d(kernel), tf.tensor1d(bias)]);
    const want = predict(model, inputs, n);
    const got = predict(pruned, inputs, n);
    let interior = 0;
    let border = 0;
    for (let i = 0; i < n; i++) {
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) {
          const p = (i * SIZE + y) * SIZE + x;
          const d = Math.abs(want[p]! - got[p]!);
          // c1 -> pool -> c2 -> up -> c3 -> out: the padding error reaches 4 pixels in from the edge at most.
          if (y >= 5 && y < SIZE - 5 && x >= 5 && x < SIZE - 5) interior = Math.max(interior, d);
          else border = Math.max(border, d);
        }
      }
    }
    expect(interior).toBeLessThan(1e-5);
    expect(border).toBeGreaterThan(interior);
  });

  it('round-trips through save/load and the ONNX compiler', async () => {
    const model = plantedModel();
    const { inputs, n } = plantedPairs(4, 17);
    const { model: pruned } = await pruneFilters(model, { c1: [2, 3], c2: [DEAD_FILTER.filter, 0], c3: [1] });
    const dir = tempDir();
    await saveLayersModel(pruned, dir, { metadata: { unetDream: { residual: true } } });
    const loaded = await loadModel(dir);
    expect(loaded.residual).toBe(true);
    expect(loaded.id).toBe(path.resolve(dir, 'model.json'));
    const want = predict(pruned, inputs, n);
    expect([...predict(loaded.model, inputs, n)]).toEqual([...want]);
    expect(countParams(loaded.model)).toBe(countParams(pruned));
    // The forward graph and the engine's gradient compiler both take the smaller model.
    const runner = await ForwardRunner.create(loaded.model, { outputs: ['out'] }, 1);
    const onnx = (await runner.run({ input: { data: inputs, dims: [n, SIZE, SIZE, 1] } })).out!.data;
    await runner.dispose();
    for (let i = 0; i < want.length; i++) expect(Math.abs(onnx[i]! - want[i]!)).toBeLessThan(1e-5);
    const engine = await createOnnxEngine(loaded.model, { threads: 1 });
    const reference = new TfjsEngine(loaded.model, { backend: 'cpu', provider: 'test' });
    const batch = { data: inputs.slice(0, 2 * SIZE * SIZE), n: 2, height: SIZE, width: SIZE, channels: 1 };
    const objective = { kind: 'filter' as const, layer: 'c3', filters: [0, 1] };
    const [a, r] = [await engine.evaluate(batch, objective), await reference.evaluate(batch, objective)];
    engine.dispose();
    reference.dispose();
    expect(a[0]! + a[1]!).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) expect(a[i]).toBeCloseTo(r[i]!, 5);
  });

  it('refuses what it cannot do, naming the layer', async () => {
    const model = plantedModel();
    await expect(pruneFilters(model, { out: [0] })).rejects.toThrow(/unknown prunable layer "out"/);
    await expect(pruneFilters(model, { c3: [0, 1, 2] })).rejects.toThrow('cannot remove all 3 filters of layer c3');
    await expect(pruneFilters(model, { c2: [4] })).rejects.toThrow('filter 4 is out of range for layer c2 (0-3)');
    expect(prunableLayers(buildUNet({ size: 32 }))).not.toContain('final_conv1');
  });
});

describe('train --init', () => {
  it('fine-tunes a pruned model and keeps its smaller shapes', async () => {
    const { model: pruned } = await pruneFilters(plantedModel(), { c1: [3], c2: [DEAD_FILTER.filter] });
    const init = tempDir();
    await saveLayersModel(pruned, init);
    const out = tempDir();
    const before = pruned.getLayer('c3').getWeights()[0]!.dataSync().slice();
    const result = await trainUNet({ out, init, steps: 3, batch: 2, size: 16, crop: 16, acceleration: 4, center: 0.08, pattern: 'random', axis: 'x', lr: 1e-3, loss: 'l1', seed: 1, resume: false, checkpointEvery: 10, validateEvery: 10, validationSize: 2, float16: false, residual: true, engine: 'tfjs' });
    expect(result.steps).toBe(3);
    const tuned = await loadModel(out);
    expect(tuned.model.getLayer('c3').getWeights()[0]!.shape).toEqual([3, 3, 6, 3]);
    expect(countParams(tuned.model)).toBe(countParams(pruned));
    const after = tuned.model.getLayer('c3').getWeights()[0]!.dataSync();
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    // Fine-tuning starts from the weights as they are: the last layer is not zeroed as a fresh residual
    // U-Net's is. 3 Adam steps at lr 1e-3 move a weight by about 0.003 at most.
    const outBefore = pruned.getLayer('out').getWeights()[0]!.dataSync();
    const outAfter = tuned.model.getLayer('out').getWeights()[0]!.dataSync();
    expect(Math.max(...outBefore.map(Math.abs))).toBeGreaterThan(0.1);
    expect(Math.max(...outAfter.map((v, i) => Math.abs(v - outBefore[i]!)))).toBeLessThan(0.01);
  });

  it('refuses an init it cannot start from, naming the option or the file', async () => {
    const base = { out: tempDir(), steps: 1, batch: 2, size: 32, crop: 16, acceleration: 4, center: 0.08, pattern: 'random' as const, axis: 'x' as const, lr: 1e-3, loss: 'l1' as const, seed: 1, resume: false, checkpointEvery: 10, validateEvery: 10, validationSize: 2, float16: false, residual: true, engine: 'tfjs' as const };
    const missing = path.join(tempDir(), 'no-such-model');
    await expect(trainUNet({ ...base, init: missing })).rejects.toThrow(`${missing}: no such model file or directory`);
    await expect(trainUNet({ ...base, init: missing, model: plantedModel() })).rejects.toThrow(/^model and init: /);
    const init = tempDir();
    await saveLayersModel(plantedModel(), init);
    // The init model's own sizes decide (one 2x pooling: even sizes), not the default U-Net's multiples of 8.
    await expect(trainUNet({ ...base, init, crop: 17 })).rejects.toThrow(/^crop: size 17 cannot be used with this model: .*\(try 18\)$/);
  });
});

describe('filter selection', () => {
  it('takes dead filters first, then the least important by ablation score', () => {
    const maxima = Float32Array.from([0.5, 0, 2, 0, 1, 3, 0.2, 0.9]);
    const scores = [-0.5, 0, -3, 0, 0.01, -0.2, -0.001, -1];
    expect(selectFilters('l', maxima, parseKeep('dead')).remove).toEqual([1, 3]);
    expect(selectFilters('l', maxima, 0.5, scores).remove).toEqual([1, 3, 4, 6]);
    expect(selectFilters('l', maxima, 0.75).remove).toEqual([1, 3]);
    expect(() => selectFilters('l', maxima, 0.5)).toThrow('layer l needs ablation scores');
    expect(() => parseKeep('1.5')).toThrow('Expected a fraction in (0, 1]');
  });
});

describe('dissect, ablate and prune commands', () => {
  it('run end to end on a small model and write what they say', async () => {
    const { main } = await import('../src/cli/main.js');
    const { captureOutput } = await import('./helpers.js');
    const { readFileSync, existsSync } = await import('node:fs');
    const modelDir = tempDir();
    await saveLayersModel(plantedModel(), modelDir, { metadata: { unetDream: { residual: true } } });
    const out = tempDir();
    const d = await captureOutput(() => main(['dissect', '--model', modelDir, '--phantoms', '6', '--size', '16', '--out', out, '--sheet-top', '2', '--sheet-steps', '2']));
    expect(d.result).toBe(0);
    expect(d.stdout).toMatch(/^6 images; aliasing mask/);
    expect(d.stdout).toMatch(/\nc2\s+4\s/);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { command: string; layers: { layer: string; counts: { dead: number } }[] };
    expect(manifest.command).toBe('dissect');
    expect(manifest.layers.find((l) => l.layer === 'c2')!.counts.dead).toBeGreaterThanOrEqual(1);
    expect(existsSync(path.join(out, 'dissect-c1.png'))).toBe(true);
    const a = await captureOutput(() => main(['ablate', '--model', modelDir, '--layers', 'c2', '--n', '4', '--size', '16', '--out', out]));
    expect(a.result).toBe(0);
    const ab = JSON.parse(readFileSync(path.join(out, 'ablate-c2.json'), 'utf8')) as { importance: { filter: number; dPsnr: number }[]; residual: boolean };
    expect(ab.residual).toBe(true);
    expect(ab.importance[DEAD_FILTER.filter]!.dPsnr).toBe(0);
    const prunedDir = tempDir();
    const p = await captureOutput(() => main(['prune', '--model', modelDir, '--keep', '0.5', '--layers', 'c2', '--scores', out, '--n', '4', '--size', '16', '--out', prunedDir]));
    expect(p.result).toBe(0);
    expect(p.stdout).toMatch(/c2\s+4 filters,\s+\d+ dead, removed 2/);
    const pruned = await loadModel(prunedDir);
    expect(pruned.residual).toBe(true);
    expect(pruned.model.getLayer('c2').getWeights()[0]!.shape).toEqual([3, 3, 4, 2]);
    const bad = await captureOutput(() => main(['ablate', '--model', modelDir, '--layers', 'c9', '--out', out]));
    expect(bad.result).toBe(2);
    expect(bad.stderr).toMatch(/unknown layer "c9"/);
  });
});
