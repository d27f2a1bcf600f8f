/**
 * The seed recipe is kept bit for bit: the same run as the built CLI of main before the lucid recipe,
 * octaves and objective variants (test/fixtures/seed-recipe-main.json, with its command) gives the
 * same activations, dead flags, stripe shares and per-layer figures.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import { tempDir } from './helpers.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/seed-recipe-main.json', import.meta.url), 'utf8')) as {
  results: Record<string, unknown>[];
  layers: Record<string, unknown>[];
};

describe('seed recipe unchanged', () => {
  it('same manifest values as main for dconv64, conv512 and uconv128 filters 0-3 at 64x64 (ONNX)', async () => {
    const out = tempDir();
    const manifest = await runPipeline(
      validatePipeline({
        model: { source: 'builtin', backend: 'onnx' },
        seed: { size: 64 },
        ascend: { layers: ['dconv64', 'conv512', 'uconv128'], filters: '0-3', workers: 1 },
        write: { out },
      }),
      { command: 'test' },
    );
    const results = (manifest.results as Record<string, unknown>[]).map((r) =>
      Object.fromEntries(['layer', 'filter', 'activation', 'dead', 'stripes'].filter((k) => k in r).map((k) => [k, r[k]])),
    );
    expect(results).toEqual(fixture.results);
    const layers = manifest.layers as Record<string, unknown>[];
    fixture.layers.forEach((expected, i) => {
      for (const [k, v] of Object.entries(expected)) expect(layers[i]![k], `${String(expected.layer)}.${k}`).toEqual(v);
    });
    // The new readings are there too, without changing the old ones.
    expect(typeof layers[0]!.hfShare).toBe('number');
  });
});
