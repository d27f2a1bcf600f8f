/**
 * The second shipped model (models/unet-mri, `--model mri`): fine-tuned from unet-phantom in two stages on
 * slices of three brain volumes (Colin27 twice, a primate T1) and phantoms. Checked on real MR it never saw (the DICOM slices of ../shared/realdata) and on
 * held-out phantoms; the volume itself is not needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { loadModel } from '../src/model/load.js';
import { withInputSize } from '../src/model/resize.js';
import { evaluateImages, evaluatePhantoms } from '../src/train/evaluate.js';

const dir = path.resolve('models/unet-mri');
// Well under what models/unet-mri/README.md measured on these sources (+4.24 dB MR_small, +1.90 dB emri frames;
// +11.48 dB on 200 phantoms).
const MIN_REAL_GAIN = 1;
const MIN_PHANTOM_GAIN = 3;
const us = { acceleration: 4, center: 0.08, pattern: 'random' as const, axis: 'x' as const };
const realdata = path.resolve('../shared/realdata/dicom');
const slices = ['pydicom_MR_small.dcm', ...Array.from({ length: 4 }, (_, i) => `pydicomdata_emri_small.dcm#frame=${i}`)].map((f) => path.join(realdata, f));

describe('the shipped MR model (models/unet-mri, --model mri)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('is what --model mri loads: trained, residual, the seed architecture, its data and split recorded by base name', async () => {
    const loaded = await loadModel('mri');
    expect(loaded.id).toBe('builtin:unet-mri');
    expect(loaded.residual).toBe(true);
    expect(loaded.model.countParams()).toBe(2881217);
    const meta = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')).userDefinedMetadata.unetDream;
    expect(meta.data).toBe('mix:0.25:ch2better.nii.gz,ch2.nii.gz,inia19-t1-brain.nii.gz');
    // Stage 2 started from stage 1 (models/unet-mri as it was); stage 1 from unet-phantom (README).
    expect(meta.init).toBe('unet-mri');
    expect(meta.volumes.map((v: { volume: string }) => v.volume)).toEqual(['ch2better.nii.gz', 'ch2.nii.gz', 'inia19-t1-brain.nii.gz']);
    for (const v of meta.volumes) expect(v.validationZ[0]).toBeGreaterThan(v.trainZEnd);
  });

  it.runIf(existsSync(realdata))('gains on real MR slices from other scanners and still on held-out phantoms', async () => {
    const loaded = await loadModel('mri');
    const model = await withInputSize(loaded.model, 128, 128);
    const real = await evaluateImages(model, slices, { size: 128, seed: 12345, residual: true, ...us });
    expect(real.failed).toEqual([]);
    expect(real.n).toBe(5);
    expect(real.gain.psnr).toBeGreaterThanOrEqual(MIN_REAL_GAIN);
    const phantoms = evaluatePhantoms(model, { n: 8, size: 128, seed: 12345, residual: true, ...us });
    expect(phantoms.gain.psnr).toBeGreaterThanOrEqual(MIN_PHANTOM_GAIN);
  }, 120_000);
});
