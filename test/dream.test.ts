import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import type { Objective } from '../src/engine/engine.js';
import { dream, octaveSizes, type DreamOptions } from '../src/ascent/dream.js';
import { tiledGradient, tiledValue } from '../src/ascent/tiled-gradient.js';
import { mergeLuminance, splitLuminance } from '../src/ascent/color.js';
import { createRng } from '../src/random.js';
import type { Plane } from '../src/ascent/resample.js';
import { tinyConvNet } from './helpers.js';

function noiseImage(width: number, height: number, channels: number, seed: number): Plane {
  const rng = createRng(seed);
  const data = new Float32Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  return { data, width, height, channels };
}

const objective: Objective = { kind: 'layers', terms: [{ layer: 'c2', weight: 1, reduce: 'l2' }, { layer: 'c1', weight: 0.5, reduce: 'mean' }] };
const base: DreamOptions = { objective, octaves: 3, octaveScale: 1.4, steps: 4, step: 0.05, normalize: 'rms', jitter: 4, tile: 512, halo: 16, divisor: 2, seed: 1 };

describe('DeepDream', () => {
  let engine: TfjsEngine;
  beforeAll(async () => {
    await selectBackend('cpu');
    engine = new TfjsEngine(tinyConvNet(3, 'tanh'), { backend: 'cpu', provider: 'test' });
  });

  it('plans octaves smallest first, ending at the input size', () => {
    expect(octaveSizes(100, 60, 3, 1.4, 2)).toEqual([{ width: 51, height: 31 }, { width: 71, height: 43 }, { width: 100, height: 60 }]);
  });

  it('raises the objective in every octave and keeps the input size', async () => {
    const input = noiseImage(37, 29, 1, 5);
    const result = await dream(engine, input, base);
    expect([result.image.width, result.image.height]).toEqual([37, 29]);
    expect(result.octaves).toHaveLength(3);
    for (const o of result.octaves) expect(o.end, `octave ${o.octave}`).toBeGreaterThan(o.start);
  });

  it('keeps what each octave dreamed: the output differs from the input, by more with more octaves', async () => {
    const input = noiseImage(40, 32, 1, 9);
    const diff = (a: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - input.data[i]!), 0) / a.length;
    const one = await dream(engine, input, { ...base, octaves: 1, jitter: 0 });
    const three = await dream(engine, input, { ...base, octaves: 3, jitter: 0 });
    expect(diff(one.image.data)).toBeGreaterThan(0.05);
    expect(diff(three.image.data)).toBeGreaterThan(diff(one.image.data));
  });

  it('with 0 steps returns the input exactly', async () => {
    const input = noiseImage(33, 20, 1, 6);
    const result = await dream(engine, input, { ...base, steps: 0 });
    expect(Array.from(result.image.data)).toEqual(Array.from(input.data));
  });

  it('tiled and untiled gradients agree when the halo covers the receptive field', async () => {
    const image = noiseImage(48, 40, 1, 7);
    const whole = await tiledGradient(engine, image, objective, { tile: 1024, halo: 0, divisor: 2 });
    const tiled = await tiledGradient(engine, image, objective, { tile: 16, halo: 16, divisor: 2 });
    const scale = Math.max(...Array.from(whole.gradient, Math.abs));
    const diff = Math.max(...Array.from(whole.gradient, (v, i) => Math.abs(v - tiled.gradient[i]!)));
    expect(diff / scale).toBeLessThan(1e-4);
    // The reported value weights each tile's mean by its core area: close, not exact (halo activations count).
    expect(Math.abs(tiled.value - whole.value) / Math.abs(whole.value)).toBeLessThan(0.02);
    // Forward-only value (used for each octave's final objective) equals the gradient pass's value.
    expect(await tiledValue(engine, image, objective, { tile: 16, halo: 16, divisor: 2 })).toBeCloseTo(tiled.value, 6);
    // Without a halo, tiles see a different context: the gradients then differ measurably.
    const seamy = await tiledGradient(engine, image, objective, { tile: 16, halo: 0, divisor: 2 });
    expect(Math.max(...Array.from(whole.gradient, (v, i) => Math.abs(v - seamy.gradient[i]!))) / scale).toBeGreaterThan(1e-2);
  });

  it('keeps chroma and alpha when dreaming on luminance', () => {
    const rgba = noiseImage(8, 6, 4, 8);
    const split = splitLuminance(rgba);
    const dreamt = { ...split.luma, data: split.luma.data.map((v, i) => v + (i % 3) * 0.1) };
    const merged = mergeLuminance(dreamt, split, 4);
    const again = splitLuminance(merged);
    for (let i = 0; i < split.chroma.length; i++) expect(again.chroma[i]).toBeCloseTo(split.chroma[i]!, 5);
    for (let i = 0; i < 48; i++) expect(again.alpha![i]).toBe(rgba.data[i * 4 + 3]);
    for (let i = 0; i < 48; i++) expect(again.luma.data[i]).toBeCloseTo(dreamt.data[i]!, 5);
    // Untouched luminance gives back the original RGB.
    const same = mergeLuminance(split.luma, split, 4);
    for (let i = 0; i < rgba.data.length; i++) expect(same.data[i]).toBeCloseTo(rgba.data[i]!, 5);
  });
});
