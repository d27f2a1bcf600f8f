/**
 * The receptive field computed from a model's layers, the default dream halo it gives, and the two
 * dream fixes: tiled gradients equal the whole image's at that halo (they did not at the old default
 * 32), and the dream's normalisation keeps its step at any image size.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/model/load.js';
import { exactHalo, receptiveField, receptiveFields } from '../src/model/receptive-field.js';
import { OnnxEngine } from '../src/engine/onnx/onnx-engine.js';
import type { LayersModel } from '../src/tf.js';
import type { Objective } from '../src/engine/engine.js';
import { tiledGradient, normalizeInPlace } from '../src/ascent/tiled-gradient.js';
import { DREAM_EPSILON } from '../src/ascent/dream.js';
import { createRng } from '../src/random.js';
import { randomPhantom } from '../src/mri/index.js';
import { tinyConvNet } from './helpers.js';

describe('receptive field', () => {
  let unet: LayersModel;
  beforeAll(async () => {
    unet = (await loadModel('builtin', {})).model;
  });

  it('of the U-Net, layer by layer (3x3 convolutions, 2x2 pools, 2x upsampling)', () => {
    const f = receptiveFields(unet);
    // By hand: each 3x3 conv adds 2 * jump, each pool adds 1 * jump and doubles it, each upsampling halves it.
    expect(f.get('dconv64')).toEqual({ size: 3, jump: 1 });
    expect(f.get('dconv128')).toEqual({ size: 8, jump: 2 });
    expect(f.get('dconv256')).toEqual({ size: 18, jump: 4 });
    expect(f.get('conv512')).toEqual({ size: 38, jump: 8 });
    expect(f.get('uconv256')).toEqual({ size: 46, jump: 4 });
    expect(f.get('uconv128')).toEqual({ size: 50, jump: 2 });
    expect(f.get('uconv64')).toEqual({ size: 52, jump: 1 });
    expect(receptiveField(unet)).toEqual({ size: 56, jump: 1 });
    // Halo = field - 1, rounded up to the pooling factor 8.
    expect(exactHalo(unet, ['uconv64'])).toBe(56);
    expect(exactHalo(unet, ['dconv64'])).toBe(8);
    expect(exactHalo(unet)).toBe(56);
  });

  it('of a small net: conv 3x3, pool 2, conv 3x3', () => {
    expect(receptiveField(tinyConvNet(), ['c2'])).toEqual({ size: 8, jump: 2 });
  });

  it('tiled gradients equal the whole image\'s at the default halo, on uconv64 of the shipped model (not at the old 32)', async () => {
    const engine = new OnnxEngine(unet, { threads: 1 });
    const size = 192;
    const phantom = randomPhantom(size, createRng(5));
    const image = { data: Float32Array.from(phantom), width: size, height: size, channels: 1 };
    const objective: Objective = { kind: 'layers', terms: [{ layer: 'uconv64', weight: 1, reduce: 'mean' }] };
    const whole = await tiledGradient(engine, image, objective, { tile: size, halo: 0, divisor: 8 });
    const err = async (halo: number) => {
      const tiled = await tiledGradient(engine, image, objective, { tile: 64, halo, divisor: 8 });
      let d = 0;
      let m = 0;
      for (let i = 0; i < whole.gradient.length; i++) {
        d = Math.max(d, Math.abs(tiled.gradient[i]! - whole.gradient[i]!));
        m = Math.max(m, Math.abs(whole.gradient[i]!));
      }
      return d / m;
    };
    const halo = exactHalo(unet, ['uconv64'])!;
    expect(await err(halo)).toBeLessThan(1e-5);
    expect(await err(32)).toBeGreaterThan(1e-3);
    engine.dispose();
  });
});

describe('dream step normalisation', () => {
  it('is scale-invariant: a gradient 1e6 times smaller (a large image\'s) still gets an RMS-1 step', () => {
    const rng = createRng(9);
    const g = Float32Array.from({ length: 4096 }, () => rng.normal());
    for (const scale of [1, 1e-3, 1e-6]) {
      const out = normalizeInPlace(Float32Array.from(g, (v) => v * scale), 'rms', DREAM_EPSILON);
      const rms = Math.sqrt(out.reduce((s, v) => s + v * v, 0) / out.length);
      expect(rms).toBeGreaterThan(0.99);
      expect(rms).toBeLessThan(1.0001);
    }
    // The seed's epsilon, kept for filters, shrinks that step: the effect the dream fix removes.
    const seedStep = normalizeInPlace(Float32Array.from(g, (v) => v * 1e-5), 'rms');
    expect(Math.sqrt(seedStep.reduce((s, v) => s + v * v, 0) / seedStep.length)).toBeLessThan(0.51);
  });
});
