/**
 * Multi-octave filter ascent (sizes, records, every recipe), the per-result spectrum readings on
 * images whose answer is known, and the lucid recipe through the pipeline and its worker pool.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import { octaveSizes } from '../src/ascent/octaves.js';
import { runFilterJob, type JobOptions } from '../src/ascent/visualize.js';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { RECIPES } from '../src/ascent/recipes.js';
import { readSpectrum } from '../src/ascent/analysis.js';
import { summariseReadings, readingOf } from '../src/ascent/readings.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import { tempDir, tinyConvNet } from './helpers.js';

describe('octaves', () => {
  it('sizes run smallest first, multiples of the pooling factor, ending at the requested size', () => {
    expect(octaveSizes(128, 1, 1.4, 8)).toEqual([128]);
    expect(octaveSizes(128, 3, 1.4, 8)).toEqual([64, 88, 128]);
    expect(octaveSizes(128, 4, 2, 8)).toEqual([16, 32, 64, 128]);
    expect(() => octaveSizes(128, 0, 1.4, 8)).toThrow(/--octaves/);
    expect(() => octaveSizes(128, 2, 1, 8)).toThrow(/--octave-scale/);
  });

  let engine: TfjsEngine;
  beforeAll(async () => {
    await selectBackend('cpu');
    engine = new TfjsEngine(tinyConvNet(4, 'tanh'), { backend: 'cpu', provider: 'test' });
  });

  for (const name of ['seed', 'lucid']) {
    it(`${name}: each octave's size and objective are recorded, and each octave raises the objective`, async () => {
      const recipe = RECIPES[name]!;
      const options: JobOptions = {
        init: await prepareInit(parseInit(recipe.init), { acceleration: 4, center: 0.08 }),
        size: 32,
        steps: 6,
        step: recipe.step,
        normalize: recipe.normalize,
        seed: 1,
        spectral: recipe.spectral && { ...recipe.spectral, pad: 2, jitter: 1, rescueSteps: 0 },
        octaves: 3,
        octaveScale: 1.5,
        divisor: 2,
      };
      const [r] = await runFilterJob(engine, 1, options, { layer: 'c2', filters: [1] });
      expect(r!.octaves!.map((o) => o.size)).toEqual([14, 22, 32]);
      expect(r!.image.length).toBe(32 * 32);
      for (const o of r!.octaves!) expect(o.end).toBeGreaterThan(o.start);
      expect(r!.activation.start).toBe(r!.octaves![0]!.start);
      expect(r!.activation.end).toBe(r!.octaves![2]!.end);
    });
  }
});

describe('spectrum readings', () => {
  const n = 64;
  const stripes = (fx: number, fy: number) => Float32Array.from({ length: n * n }, (_, i) => Math.cos((2 * Math.PI * (fx * (i % n) + fy * Math.floor(i / n))) / n));

  it('vertical stripes (varying along x): vertical share 1, dominant angle 0, histogram bin 0', () => {
    const r = readSpectrum(stripes(5, 0), n, n);
    expect(r.vertical).toBeCloseTo(1, 6);
    expect(r.dominantAngle).toBeCloseTo(0, 6);
    expect(r.histogram[0]).toBeCloseTo(1, 6);
    expect(r.hf).toBeCloseTo(0, 6); // 5/64 cycles per pixel is below half Nyquist
  });

  it('horizontal fine stripes: horizontal share 1, angle 90, all energy above half Nyquist', () => {
    const r = readSpectrum(stripes(0, 24), n, n);
    expect(r.horizontal).toBeCloseTo(1, 6);
    expect(Math.abs(r.dominantAngle)).toBeCloseTo(90, 6);
    expect(r.histogram[6]).toBeCloseTo(1, 6);
    expect(r.hf).toBeCloseTo(1, 6);
  });

  it('diagonal stripes: oblique, 45 degrees off vertical', () => {
    const r = readSpectrum(stripes(6, 6), n, n);
    expect(r.oblique).toBeCloseTo(1, 6);
    expect(Math.abs(r.dominantAngle)).toBeCloseTo(45, 4);
    expect(r.orientedness).toBeCloseTo(1, 6);
  });

  it('a layer summary counts vertical, horizontal and oblique filters and skips dead ones', () => {
    const rec = (img: Float32Array, dead = false) => ({ activation: { start: 0, end: 2 }, dead, spectrum: readingOf(img, n, n, 1) });
    const s = summariseReadings([rec(stripes(5, 0)), rec(stripes(6, 6)), rec(stripes(6, 6)), rec(stripes(0, 3), true)]);
    expect(s.oblique).toBe(2);
    expect(s.obliqueShare).toBeCloseTo(2 / 3, 3);
    expect(s.activationReached).toBe(2);
    expect(s.medianAngleOffVertical).toBe(45);
  });
});

describe('lucid through the pipeline', () => {
  it('one worker and two workers give the same filters (the pool passes the recipe settings through); manifest has readings and octaves', async () => {
    const config = (out: string, workers: number) =>
      validatePipeline({
        model: { source: 'builtin', backend: 'onnx', threads: 1 },
        seed: { size: 32 },
        ascend: { recipe: 'lucid', layers: ['dconv64'], filters: '0-1', steps: 3, workers, octaves: 2, lucid: { rotate: 5, tv: 0.1 } },
        write: { out },
      });
    const a = await runPipeline(config(tempDir(), 1), { command: 'test' });
    const b = await runPipeline(config(tempDir(), 2), { command: 'test' });
    const strip = (m: typeof a) => (m.results as Record<string, unknown>[]).map(({ file: _f, ...r }) => r);
    expect(strip(b)).toEqual(strip(a));
    const first = (a.results as { octaves: { size: number }[]; spectrum: { hf: number } }[])[0]!;
    expect(first.octaves.map((o) => o.size)).toEqual([24, 32]);
    expect(first.spectrum.hf).toBeGreaterThanOrEqual(0);
    expect((a.layers as { hfShare: number }[])[0]!.hfShare).toBeGreaterThanOrEqual(0);
  }, 900_000); // two workers each compile their graphs: slow on a shared 2-core machine

  it('lucid settings with a pixel recipe are refused before anything runs', () => {
    expect(() => validatePipeline({ ascend: { recipe: 'seed', lucid: { rotate: 10 } } })).toThrow(/spectral recipe/);
  });
});
