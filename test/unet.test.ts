import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildUNet, SEED_LAYERS } from '../src/model/unet.js';
import { summarize } from '../src/model/summary.js';
import { withInputSize } from '../src/model/resize.js';
import { checkInputSize, sizeMultiple } from '../src/model/input-size.js';
import { tf } from '../src/tf.js';

const SEED_POST = path.resolve(import.meta.dirname, '..', '..', 'shared', 'seed', 'visualizacion-filtros-keras.md');

// Transcribed from the seed post's `model.summary()` (../shared/seed/visualizacion-filtros-keras.md).
const SEED_SUMMARY: [string, string, number[], number][] = [
  ['input_3', 'InputLayer', [128, 128, 1], 0],
  ['dconv64', 'Conv2D', [128, 128, 64], 640],
  ['conv64_1', 'BatchNormalization', [128, 128, 64], 256],
  ['max_pooling2d_5', 'MaxPooling2D', [64, 64, 64], 0],
  ['dconv128', 'Conv2D', [64, 64, 128], 73856],
  ['conv128_1', 'BatchNormalization', [64, 64, 128], 512],
  ['max_pooling2d_6', 'MaxPooling2D', [32, 32, 128], 0],
  ['dconv256', 'Conv2D', [32, 32, 256], 295168],
  ['conv256_1', 'BatchNormalization', [32, 32, 256], 1024],
  ['code', 'MaxPooling2D', [16, 16, 256], 0],
  ['conv512', 'Conv2D', [16, 16, 512], 1180160],
  ['up_sampling2d_7', 'UpSampling2D', [32, 32, 512], 0],
  ['concatenate_7', 'Concatenate', [32, 32, 768], 0],
  ['uconv256', 'Conv2D', [32, 32, 128], 884864],
  ['conv512_2', 'BatchNormalization', [32, 32, 128], 512],
  ['up_sampling2d_8', 'UpSampling2D', [64, 64, 128], 0],
  ['concatenate_8', 'Concatenate', [64, 64, 256], 0],
  ['uconv128', 'Conv2D', [64, 64, 128], 295040],
  ['conv128_2', 'BatchNormalization', [64, 64, 128], 512],
  ['up_sampling2d_9', 'UpSampling2D', [128, 128, 128], 0],
  ['concatenate_9', 'Concatenate', [128, 128, 192], 0],
  ['uconv64', 'Conv2D', [128, 128, 64], 110656],
  ['conv64_2', 'BatchNormalization', [128, 128, 64], 256],
  ['econv64', 'Conv2D', [128, 128, 64], 36928],
  ['conv64_3', 'BatchNormalization', [128, 128, 64], 256],
  ['final_conv1', 'Conv2D', [128, 128, 1], 577],
];

describe("the seed's U-Net", () => {
  const model = buildUNet();
  const summary = summarize(model);

  it('has the layer table of the seed summary: names, types, output shapes, parameters', () => {
    expect(summary.layers.map((l) => [l.name, l.type, l.outputShape.slice(1), l.params])).toEqual(SEED_SUMMARY);
  });

  it('has 2,881,217 parameters, 1,664 of them non-trainable', () => {
    expect(summary.totalParams).toBe(2881217);
    expect(summary.trainableParams).toBe(2879553);
  });

  it('wires the skip connections as the seed does', () => {
    const inputs = Object.fromEntries(summary.layers.map((l) => [l.name, l.inputs]));
    expect(inputs.concatenate_7).toEqual(['up_sampling2d_7', 'conv256_1']);
    expect(inputs.concatenate_8).toEqual(['up_sampling2d_8', 'conv128_1']);
    expect(inputs.concatenate_9).toEqual(['up_sampling2d_9', 'conv64_1']);
  });

  // The seed's own list of the layers it drew sheets for, with their filter counts (`layers = [(name, n), ...]`).
  it.skipIf(!existsSync(SEED_POST))("lists the seed's sheet layers in the seed's order, each with the seed's filter count", () => {
    const line = readFileSync(SEED_POST, 'utf8').split('\n').find((l) => l.startsWith('layers = ['));
    expect(line, 'the seed post lists its sheet layers').toBeDefined();
    const seed = [...line!.matchAll(/\('(\w+)', (\d+)\)/g)].map((m) => [m[1]!, Number(m[2])] as const);
    expect(seed.length).toBeGreaterThan(0);
    expect([...SEED_LAYERS]).toEqual(seed.map(([name]) => name));
    for (const [name, filters] of seed) expect((model.getLayer(name).outputShape as number[])[3], name).toBe(filters);
  });

  it('is deterministic for a seed: same weights twice, different for another seed', () => {
    const a = buildUNet({ seed: 1 }).getLayer('dconv64').getWeights()[0]!.dataSync();
    const b = buildUNet({ seed: 1 }).getLayer('dconv64').getWeights()[0]!.dataSync();
    const c = buildUNet({ seed: 2 }).getLayer('dconv64').getWeights()[0]!.dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('is rebuilt for any size divisible by 8 with the same weights and outputs', async () => {
    expect(sizeMultiple(model)).toBe(8);
    expect(checkInputSize(model, { height: 32, width: 24 })).toEqual({ ok: true });
    const small = await withInputSize(model, 32, 24);
    expect(small.outputShape).toEqual([null, 32, 24, 1]);
    const x = tf.randomUniform([1, 32, 24, 1], 0, 1, 'float32', 3);
    const anySize = await withInputSize(model, null, null);
    const a = (small.predict(x) as tf.Tensor).dataSync();
    const b = (anySize.predict(x) as tf.Tensor).dataSync();
    expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
  });
});
