import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { loadModel } from '../src/model/load.js';
import { withInputSize } from '../src/model/resize.js';
import { evaluatePhantoms } from '../src/train/evaluate.js';

const dir = path.resolve('models/unet-phantom');

describe('the shipped model (models/unet-phantom)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('is what --model builtin loads: trained, residual, the seed\'s architecture', async () => {
    expect(existsSync(path.join(dir, 'model.json'))).toBe(true);
    const loaded = await loadModel('builtin');
    expect(loaded.trained).toBe(true);
    expect(loaded.residual).toBe(true);
    expect(loaded.id).toBe('builtin:unet-phantom');
    expect(loaded.model.countParams()).toBe(2881217);
  });

  it('removes aliasing: >= 3 dB PSNR over zero-filled on 16 held-out phantoms at R = 4', async () => {
    const loaded = await loadModel('builtin');
    const model = await withInputSize(loaded.model, 128, 128);
    const report = evaluatePhantoms(model, { n: 16, size: 128, seed: 12345, residual: loaded.residual, acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    expect(report.n).toBe(16);
    expect(report.gain.psnr).toBeGreaterThanOrEqual(3);
    expect(report.gain.ssim).toBeGreaterThan(0);
  });

  it('keeps the repository lean: float16 weights, under 30 MB in all', () => {
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const dtypes = new Set(json.weightsManifest.flatMap((g: { weights: { dtype: string; quantization?: { dtype: string } }[] }) => g.weights.map((w) => w.quantization?.dtype ?? w.dtype)));
    expect([...dtypes]).toEqual(['float16']);
    const total = readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    expect(total).toBeLessThan(30 * 2 ** 20);
  });
});
