import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import { buildUNet } from '../src/model/unet.js';
import { visualizeFilters } from '../src/ascent/visualize.js';
import { parseFilterSelection, resolveFilters } from '../src/ascent/filters.js';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import { tempDir } from './helpers.js';

describe('filter selections', () => {
  it('parses ranges, lists, random:N and all', () => {
    expect(resolveFilters(parseFilterSelection('0-3'), 'l', 8, 0)).toEqual([0, 1, 2, 3]);
    expect(resolveFilters(parseFilterSelection('3,5,9'), 'l', 10, 0)).toEqual([3, 5, 9]);
    expect(resolveFilters(parseFilterSelection('all'), 'l', 3, 0)).toEqual([0, 1, 2]);
    const random = resolveFilters(parseFilterSelection('random:16'), 'dconv64', 64, 1);
    expect(random).toHaveLength(16);
    expect(new Set(random).size).toBe(16);
    expect(random.every((f) => f >= 0 && f < 64)).toBe(true);
    expect(resolveFilters(parseFilterSelection('random:16'), 'dconv64', 64, 1)).toEqual(random);
    expect(resolveFilters(parseFilterSelection('random:16'), 'dconv64', 64, 2)).not.toEqual(random);
  });

  it('rejects malformed selections and out-of-range indices with the valid range', () => {
    expect(() => parseFilterSelection('banana')).toThrow(/Expected a range \(0-15\), a list \(3,5,9\), random:N or all for filters but received "banana"/);
    expect(() => resolveFilters(parseFilterSelection('60-64'), 'dconv64', 64, 0)).toThrow('filter 64 is out of range for layer dconv64: it has 64 filters, valid indices are 0-63');
  });
});

describe('seed recipe on the U-Net', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('raises the activation of every tested filter, at every depth', async () => {
    const model = buildUNet();
    const engine = new TfjsEngine(model, { backend: 'wasm', provider: 'test' });
    const results = await visualizeFilters(engine, model, {
      layers: ['dconv64', 'dconv256', 'conv512', 'uconv64'],
      filters: parseFilterSelection('0-3'),
      init: await prepareInit(parseInit('uniform:0:2')),
            size: 32,
      steps: 5,
      step: 1,
      normalize: 'rms',
      seed: 1,
      batch: 4,
    });
    expect(results).toHaveLength(16);
    for (const r of results) {
      if (r.dead) {
        // A dead unit (zero everywhere, zero gradient) is reported, not passed off as a result.
        expect(r.activation, `${r.layer} #${r.filter}`).toEqual({ start: 0, end: 0 });
      } else {
        expect(r.activation.end, `${r.layer} #${r.filter}`).toBeGreaterThan(r.activation.start);
      }
    }
    // The untrained init has one dead unit among these (conv512 #3); everything else must rise.
    expect(results.filter((r) => r.dead).map((r) => `${r.layer}#${r.filter}`)).toEqual(['conv512#3']);
    engine.dispose();
  });

  it('gives the same images whatever the batch size', async () => {
    const model = buildUNet();
    const engine = new TfjsEngine(model, { backend: 'wasm', provider: 'test' });
    const options = { layers: ['dconv128'], filters: parseFilterSelection('0-2'), init: await prepareInit(parseInit('uniform:0:2')), size: 16, steps: 3, step: 1, normalize: 'rms' as const, seed: 4 };
    const one = await visualizeFilters(engine, model, { ...options, batch: 1 });
    const three = await visualizeFilters(engine, model, { ...options, batch: 3 });
    for (let i = 0; i < 3; i++) {
      expect(three[i]!.activation.end).toBeCloseTo(one[i]!.activation.end, 4);
      const diff = Math.max(...Array.from(one[i]!.image, (v, p) => Math.abs(v - three[i]!.image[p]!)));
      expect(diff).toBeLessThan(1e-3);
    }
    engine.dispose();
  });
});

describe('filters pipeline', () => {
  const raw = (out: string) => ({
    model: { source: 'builtin', backend: 'wasm' },
    seed: { size: 16, seed: 3 },
    ascend: { layers: ['dconv64', 'uconv64'], filters: '0-2', steps: 3, batch: 2, workers: 1 },
    write: { out, tiles: true },
  });

  it('same seed gives identical numbers and identical PNG bytes', async () => {
    const [a, b] = [tempDir(), tempDir()];
    const ma = await runPipeline(validatePipeline(raw(a)), { command: 'test' });
    const mb = await runPipeline(validatePipeline(raw(b)), { command: 'test' });
    expect(ma.results).toEqual(mb.results);
    const files = ['dconv64.png', 'uconv64.png', 'tiles/dconv64-0.png', 'tiles/uconv64-2.png'];
    for (const f of files) {
      const ha = createHash('sha256').update(readFileSync(path.join(a, f))).digest('hex');
      const hb = createHash('sha256').update(readFileSync(path.join(b, f))).digest('hex');
      expect(ha, f).toBe(hb);
    }
  });

  it('writes a manifest with config, model hash, backend, versions and per-filter activations', async () => {
    const out = tempDir();
    const before = Date.now();
    const t0 = performance.now();
    await runPipeline(validatePipeline(raw(out)), { command: 'test' });
    const measured = performance.now() - t0;
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.engine).toMatchObject({ engine: 'tfjs', backend: 'wasm' });
    expect(manifest.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.model.trained).toBe(true);
    expect(manifest.model.note).toMatch(/trained on simulated phantoms/);
    expect(manifest.versions['@tensorflow/tfjs']).toBe('4.22.0');
    expect(manifest.seed).toBe(3);
    expect(manifest.config.ascend.layers).toEqual(['dconv64', 'uconv64']);
    expect(manifest.config.ascend.steps).toBe(3);
    // The run's own clock: it starts after this test's and stops before it, and loading the model alone
    // takes most of the run, so the manifest's figure is within the time measured around the call.
    expect(manifest.wallTimeMs).toBeLessThanOrEqual(Math.ceil(measured));
    expect(manifest.wallTimeMs).toBeGreaterThanOrEqual(Math.floor(measured * 0.5));
    expect(Date.parse(manifest.startedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(manifest.startedAt)).toBeLessThanOrEqual(before + measured);
    expect(manifest.results).toHaveLength(6);
    expect(manifest.results[0]).toMatchObject({ layer: 'dconv64', filter: 0, file: 'dconv64.png', tile: 'tiles/dconv64-0.png' });
    // Live filters rise; a dead one (no gradient from its start: the trained model has some) is
    // flagged and left where it started.
    const live = manifest.results.filter((r: { dead?: boolean }) => !r.dead);
    expect(live.length).toBeGreaterThanOrEqual(4);
    for (const r of manifest.results) {
      if (r.dead) expect(r.activation.end).toBe(r.activation.start);
      else expect(r.activation.end).toBeGreaterThan(r.activation.start);
    }
    for (const r of manifest.results) expect(r.stripes.alongX + r.stripes.alongY).toBeLessThanOrEqual(1 + 1e-9);
    expect(manifest.layers.map((l: { layer: string; filters: number }) => [l.layer, l.filters])).toEqual([['dconv64', 3], ['uconv64', 3]]);
    const d64 = manifest.layers[0];
    const vertical = manifest.results.filter((r: { layer: string; stripes: { alongX: number; alongY: number } }) => r.layer === 'dconv64' && r.stripes.alongX > 2 * r.stripes.alongY).length;
    expect(d64.vertical).toBe(vertical);
  });
});
