import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { dissect, formatDissectTable, labelOf } from '../src/dissect/dissect.js';
import { aliasingMask, bilinearAxis, edgeMask, overlapAbove, TopK, upsample } from '../src/dissect/masks.js';
import { ablateLayer, frontierOf } from '../src/ablate/ablate.js';
import { buildUNet } from '../src/model/unet.js';
import { predictImages } from '../src/train/evaluate.js';
import { psnr } from '../src/mri/index.js';
import { tf } from '../src/tf.js';
import { ALIAS_FILTER, DEAD_FILTER, plantedModel, plantedPairs, SIZE } from './dissect-helpers.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('dissection building blocks', () => {
  it('TopK returns the exact k-th largest value of a stream, ties included', () => {
    const values = Float32Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 1000);
    const top = new TopK(50);
    for (let i = 0; i < values.length; i += 333) top.add(values.subarray(i, i + 333));
    const sorted = Float32Array.from(values).sort();
    expect(top.value()).toBe(sorted[sorted.length - 50]);
  });

  it('upsampling then thresholding counts what a materialised mask would', () => {
    const plane = Float32Array.from({ length: 16 }, (_, i) => (i * 37) % 11);
    const up = upsample(plane, 4, 16);
    const concept = Uint8Array.from({ length: 256 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const o = overlapAbove(plane, 4, 16, 6.5, bilinearAxis(4, 16), [concept]);
    const unit = up.reduce((s, v) => s + (v > 6.5 ? 1 : 0), 0);
    const inter = up.reduce((s, v, i) => s + (v > 6.5 && concept[i] ? 1 : 0), 0);
    expect(o.unit).toBe(unit);
    expect(o.intersections[0]).toBe(inter);
    expect(unit).toBeGreaterThan(0);
  });

  it('edge and aliasing masks mark a step and a difference', () => {
    const t = Float32Array.from({ length: 64 }, (_, i) => (i % 8 >= 4 ? 1 : 0));
    const e = edgeMask(t, 8, 0.15);
    expect([...e.subarray(0, 8)]).toEqual([0, 0, 0, 1, 1, 0, 0, 0]);
    expect([...aliasingMask(Float32Array.from([0.1, 0.5]), Float32Array.from([0, 0.2]), 0.15)]).toEqual([0, 1]);
    expect(labelOf(0, 0.9, 0.9, 0.04)).toBe('dead');
    expect(labelOf(1, 0.05, 0.01, 0.04)).toBe('aliasing');
    expect(labelOf(1, 0.05, 0.05, 0.04)).toBe('both');
    expect(labelOf(1, 0.01, 0.05, 0.04)).toBe('edge');
    expect(labelOf(1, 0.01, 0.01, 0.04)).toBe('neither');
  });
});

describe('dissect on a model with planted filters', () => {
  it('labels the exact copy of the aliasing map an aliasing detector and the dead filter dead', async () => {
    const model = plantedModel();
    const pairs = plantedPairs();
    const events: string[] = [];
    const result = await dissect(model, pairs, { threads: 1 }, (e) => e.type === 'progress' && events.push(e.label));
    const c1 = result.layers.find((l) => l.layer === ALIAS_FILTER.layer)!;
    const alias = c1.units[ALIAS_FILTER.filter]!;
    // 64 bright pixels are the aliasing mask; T_k is the 64th largest activation and the mask is > T_k: 63 of 64.
    expect(alias.aliasingIoU).toBeCloseTo(63 / 64, 6);
    expect(alias.edgeIoU).toBe(0);
    expect(alias.label).toBe('aliasing');
    const c2 = result.layers.find((l) => l.layer === DEAD_FILTER.layer)!;
    expect(c2.units[DEAD_FILTER.filter]!.label).toBe('dead');
    expect(c2.units[DEAD_FILTER.filter]!.max).toBe(0);
    expect(c2.counts.dead).toBe(c2.units.filter((u) => u.max === 0).length);
    expect(result.maskFractions.aliasing).toBeCloseTo(64 / (50 * SIZE * SIZE), 9);
    expect(result.maskFractions.edge).toBe(0);
    expect(result.layers.map((l) => l.layer)).toEqual(['c1', 'c2', 'c3', 'out']);
    const table = formatDissectTable(result);
    expect(table[0]).toMatch(/^layer\s+filters\s+aliasing\s+edge\s+both\s+neither\s+dead/);
    expect(table.find((r) => r.startsWith('c1'))).toMatch(/^c1\s+4\s+[1-4]\s/);
    expect(events.at(-1)).toMatch(/pass 2/);
  });
});

describe('ablation', () => {
  it('finds the skip connection a downstream part needs', () => {
    expect(frontierOf(buildUNet({ size: 32 }), 'uconv128')).toEqual(['conv64_1']);
    expect(frontierOf(plantedModel(), 'c2')).toEqual(['bn1']);
  });

  it('scores a zeroed filter like a network whose kernel and bias are zero, and a dead filter at exactly 0 dB', async () => {
    const model = plantedModel();
    const pairs = plantedPairs(12, 9);
    // Targets with structure, so PSNR is finite and filters matter.
    pairs.targets.set(pairs.inputs.map((v) => 0.8 * v + 0.05));
    const ab = await ablateLayer(model, pairs, 'c2', { layers: ['c2'], residual: true, batch: 5, threads: 1 });
    expect(ab.importance[DEAD_FILTER.filter]!.dPsnr).toBe(0);
    const f = 1;
    const [k, b] = model.getLayer('c2').getWeights();
    const kernel = k!.arraySync() as number[][][][];
    for (const row of kernel) for (const col of row) for (const cin of col) cin[f] = 0;
    const bias = b!.arraySync() as number[];
    bias[f] = 0;
    model.getLayer('c2').setWeights([tf.tensor4d(kernel), tf.tensor1d(bias)]);
    const out = predictImages(model, pairs.inputs, pairs.n, SIZE, SIZE, true);
    let mean = 0;
    for (let i = 0; i < pairs.n; i++) mean += psnr(pairs.targets.subarray(i * 256, (i + 1) * 256), out.subarray(i * 256, (i + 1) * 256), 1) / pairs.n;
    expect(ab.baseline.psnr + ab.importance[f]!.dPsnr).toBeCloseTo(mean, 3);
    expect(ab.order).toHaveLength(4);
  });
});
