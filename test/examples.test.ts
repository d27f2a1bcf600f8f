/**
 * `examples`: every patch is where its unit's maximum is. For each recorded patch the test rebuilds
 * the slice from the manifest's source, checks the recorded unit is the channel's argmax over the
 * whole slice, and recomputes the unit's activation on a crop around it (aligned to the pooling grid
 * and as large as the receptive field): the same value, so the crop holds everything the unit sees.
 */
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { OnnxEngine } from '../src/engine/onnx/index.js';
import { loadModel } from '../src/model/load.js';
import type { ExamplesLayerRecord } from '../src/examples/examples.js';
import { runPipeline } from '../src/pipeline/run.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { phantomImage, toSlice } from '../src/activations/slices.js';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('examples mode', () => {
  it('records top patches at each unit argmax, reproduced on the crop', async () => {
    const out = path.join(tempDir(), 'ex');
    const manifest = await runPipeline(
      validatePipeline({ model: { backend: 'onnx' }, seed: { phantoms: 5, size: 64, seed: 4 }, ascend: { mode: 'examples', layers: ['dconv128', 'dconv256'], filters: '0-2', top: 3, steps: 2 }, write: { out } }),
      { command: 'test' },
    );
    const result = { layers: manifest.results as ExamplesLayerRecord[] };
    const { model } = await loadModel('builtin');
    const engine = new OnnxEngine(model, { threads: 2 });
    let checked = 0;
    try {
      for (const layer of result.layers) {
        const meta = await sharp(path.join(out, layer.sheet)).metadata();
        expect(meta.format).toBe('png');
        expect(layer.receptiveField.size).toBeGreaterThan(1);
        const s = layer.stride;
        const r = Math.ceil(layer.receptiveField.size);
        for (const row of layer.filters) {
          expect(row.patches).toHaveLength(3);
          expect(row.synthetic).toBeDefined();
          const values = row.patches.map((p) => p.activation);
          expect([...values].sort((a, b) => b - a)).toEqual(values);
          for (const p of row.patches) {
            const slice = toSlice(phantomImage(p.source), p.source, 'x', { window: [0.5, 99.5], channels: 1 });
            const [full] = await engine.activations({ data: slice.data, n: 1, height: 64, width: 64, channels: 1 }, [layer.layer]);
            const at = (m: typeof full, x: number, y: number) => m!.data[(y * m!.width + x) * m!.channels + row.filter]!;
            let max = -Infinity;
            for (let y = 0; y < full!.height; y++) for (let x = 0; x < full!.width; x++) max = Math.max(max, at(full, x, y));
            expect(at(full, p.unit[0], p.unit[1])).toBeCloseTo(p.activation, 4);
            expect(p.activation).toBe(max);
            // The crop: a window on the 8-pixel pooling grid reaching r pixels past the unit's block.
            const pad = Math.ceil(r / 8) * 8;
            const x0 = Math.floor((p.unit[0] * s - pad) / 8) * 8;
            const y0 = Math.floor((p.unit[1] * s - pad) / 8) * 8;
            const w = Math.ceil((p.unit[0] * s + s + pad - x0) / 8) * 8;
            const h = Math.ceil((p.unit[1] * s + s + pad - y0) / 8) * 8;
            if (x0 < 0 || y0 < 0 || x0 + w > 64 || y0 + h > 64) continue; // the image edge is part of what it sees
            const crop = new Float32Array(w * h);
            for (let y = 0; y < h; y++) crop.set(slice.data.subarray((y0 + y) * 64 + x0, (y0 + y) * 64 + x0 + w), y * w);
            const [local] = await engine.activations({ data: crop, n: 1, height: h, width: w, channels: 1 }, [layer.layer]);
            expect(at(local, (p.unit[0] * s - x0) / s, (p.unit[1] * s - y0) / s)).toBeCloseTo(p.activation, 4);
            checked++;
          }
        }
      }
    } finally {
      engine.dispose();
    }
    expect(checked).toBeGreaterThan(3);
  });

  it.each([
    [['--layers', 'dconv64', '--filters', '64'], /--filters: channel 64 is out of range: layer dconv64 has 64 channels, valid 0-63/],
    [['--layers', 'nope'], /--layers: unknown layer "nope"; valid layers:/],
    [['--layers', 'dconv64', '--top', '0'], /--top: expected >=1, found number 0/],
    [['--layers', 'dconv64'], /INPUTS: expected folders or files of slices, or a number of phantoms \(--phantoms, seed.phantoms\)/],
  ])('%j fails with exit 2 before the model loads', async (flags, message) => {
    const { result, stderr } = await captureOutput(() => main(['examples', '--out', path.join(tempDir(), 'bad'), ...(flags.includes('--top') || flags.includes('--filters') || flags.includes('nope') ? ['--phantoms', '2'] : []), ...flags]));
    expect(result).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });
});
