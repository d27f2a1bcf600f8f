/**
 * Real-slice training data: NIfTI volumes written with the project's own writer, sliced along x, y and
 * z, near-empty slices skipped, a validation slab that shares no voxel with training, normalisation as
 * inference does it, keyed (resumable) batches, mixes with phantoms, augmentation, and fine-tuning
 * with init. The Colin27 volume (Debian mricron-data) is used only when installed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf, type LayersModel } from '../src/tf.js';
import { InputError, UsageError } from '../src/errors.js';
import { createImage } from '../src/io/image.js';
import { encodeNifti } from '../src/io/nifti.js';
import { psnr } from '../src/mri/index.js';
import { areaReduce, fixedPlacement, gaussianBlur, place, randomPlacement, DEFAULT_AUGMENT } from '../src/train/augment.js';
import { openTrainingData, parseDataSpec } from '../src/train/data.js';
import { makeCropBatch, makeExample } from '../src/train/dataset.js';
import { padToGrid } from '../src/train/evaluate.js';
import { trainUNet, type TrainOptions } from '../src/train/train.js';
import { indexSlices, readVolume, sliceOf } from '../src/train/volumes.js';
import { keyedRng } from '../src/random.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

const US = { acceleration: 4, center: 0.08, pattern: 'random' as const, axis: 'x' as const };

/**
 * An nx x ny x nz volume: an ellipsoid "head" whose value encodes its voxel (so slices can be checked
 * voxel by voxel), with `emptyBelow` empty slices at the bottom of z.
 */
function writeVolume(file: string, nx = 24, ny = 20, nz = 30, emptyBelow = 4): Float32Array[] {
  const slices: Float32Array[] = [];
  for (let z = 0; z < nz; z++) {
    const s = new Float32Array(nx * ny);
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const r = ((x - nx / 2) / (nx / 2.2)) ** 2 + ((y - ny / 2) / (ny / 2.2)) ** 2 + ((z - nz / 2) / (nz / 2)) ** 2;
        s[y * nx + x] = z >= emptyBelow && r < 1 ? 100 + x + 30 * y + 700 * z : 0;
      }
    }
    slices.push(s);
  }
  const images = slices.map((s) => createImage(nx, ny, 1, s));
  writeFileSync(file, encodeNifti(images, slices, { bitDepth: 32 }));
  return slices;
}

const valueAt = (slices: Float32Array[], nx: number, x: number, y: number, z: number) => slices[z]![y * nx + x]!;

describe('training data from NIfTI volumes', () => {
  let dir: string;
  let volumeFile: string;
  let slices: Float32Array[];
  beforeAll(async () => {
    await selectBackend('wasm');
    dir = tempDir();
    volumeFile = path.join(dir, 'head.nii');
    slices = writeVolume(volumeFile);
  });

  it('parses --data: phantoms, nifti:PATHS, mix:P:PATHS; bad forms name the forms', () => {
    expect(parseDataSpec('phantoms')).toEqual({ kind: 'phantoms' });
    expect(parseDataSpec('nifti:a.nii.gz,b.nii')).toEqual({ kind: 'nifti', paths: ['a.nii.gz', 'b.nii'] });
    expect(parseDataSpec('mix:0.3:a.nii.gz')).toEqual({ kind: 'mix', phantomShare: 0.3, paths: ['a.nii.gz'] });
    expect(() => parseDataSpec('mix:0.3')).toThrow(/mix needs volumes too/);
    expect(() => parseDataSpec('mix:1.5:a.nii')).toThrow(/share must be a number in \[0, 1\]/);
    expect(() => parseDataSpec('nifti:')).toThrow(/no volume path given/);
    expect(() => parseDataSpec('photos')).toThrow(UsageError);
  });

  it('reads the volume written by the NIfTI writer and slices it along x, y and z voxel by voxel', async () => {
    const v = await readVolume(volumeFile);
    expect([v.nx, v.ny, v.nz]).toEqual([24, 20, 30]);
    const z = sliceOf(v, 'z', 15);
    expect([z.width, z.height]).toEqual([24, 20]);
    expect(z.data[7 * 24 + 9]).toBe(valueAt(slices, 24, 9, 7, 15));
    const x = sliceOf(v, 'x', 12, 25);
    // Rows are z from the top (z = 24 first), columns y.
    expect([x.width, x.height]).toEqual([20, 25]);
    expect(x.data[0 * 20 + 10]).toBe(valueAt(slices, 24, 12, 10, 24));
    expect(x.data[9 * 20 + 10]).toBe(valueAt(slices, 24, 12, 10, 15));
    const y = sliceOf(v, 'y', 10, 25);
    expect([y.width, y.height]).toEqual([24, 25]);
    expect(y.data[9 * 24 + 5]).toBe(valueAt(slices, 24, 5, 10, 15));
  });

  it('skips near-empty slices and holds out a top slab that shares no voxel with training', async () => {
    const v = await readVolume(volumeFile);
    const { train, validation, split } = indexSlices(v, 0, { validationFraction: 0.2, gap: 2, axes: ['x', 'y', 'z'] });
    // z 0..3 are empty and so are the ellipsoid's tips: none of them is used.
    for (const s of [...train, ...validation]) {
      if (s.axis === 'z') expect(s.index).toBeGreaterThanOrEqual(4);
      expect(s.index === 0 && s.axis !== 'z').toBe(false);
    }
    const trainZ = train.filter((s) => s.axis === 'z').map((s) => s.index);
    const valZ = validation.map((s) => s.index);
    expect(valZ.length).toBeGreaterThan(0);
    expect(Math.max(...trainZ)).toBeLessThan(split.trainZEnd);
    expect(Math.min(...valZ)).toBeGreaterThanOrEqual(split.trainZEnd + 2);
    expect(split.validationZ).toEqual([Math.min(...valZ), Math.max(...valZ)]);
    // Slices along x and y stop below the slab too.
    expect(sliceOf(v, 'x', 12, split.trainZEnd).height).toBe(split.trainZEnd);
    expect(train.some((s) => s.axis === 'x') && train.some((s) => s.axis === 'y')).toBe(true);
    expect(split).toMatchObject({ volume: 'head.nii', shape: [24, 20, 30] });
    expect(split.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a missing volume names the file and the Debian package that provides the templates', async () => {
    const missing = path.join(dir, 'ch2better.nii.gz');
    const err = await readVolume(missing).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(missing);
    expect(err.message).toMatch(/mricron-data/);
    await expect(openTrainingData(parseDataSpec(`nifti:${missing}`), { size: 32, crop: 16, seed: 1, undersampling: US })).rejects.toThrow(/mricron-data/);
  });

  it('train --data: a missing volume exits 1 naming the file and mricron-data; mix without volumes exits 2; one line each', async () => {
    const missing = path.join(dir, 'nope', 'ch2better.nii.gz');
    const cases: [string, number, RegExp][] = [
      [`nifti:${missing}`, 1, /no such file; .*mricron-data/],
      ['mix:0.3', 2, /mix needs volumes too/],
    ];
    for (const [data, code, message] of cases) {
      const { result, stderr } = await captureOutput(() => main(['train', '--out', tempDir(), '--steps', '1', '--backend', 'wasm', '--data', data]));
      expect(result, data).toBe(code);
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('validation slices are normalised as inference normalises images, padded on zeros, and undersampled', async () => {
    const data = await openTrainingData(parseDataSpec(`nifti:${volumeFile}`), { size: 32, crop: 16, seed: 1, undersampling: US, augment: false });
    const val = data.validation(3);
    expect(val.size).toBe(32);
    for (let k = 0; k < 3; k++) {
      const t = val.targets.subarray(k * 1024, (k + 1) * 1024);
      const i = val.inputs.subarray(k * 1024, (k + 1) * 1024);
      expect(Math.max(...t)).toBeGreaterThan(0.95);
      expect(Math.max(...t)).toBeLessThanOrEqual(1);
      expect(Math.min(...t)).toBe(0);
      expect(t[0]).toBe(0); // the grid's corner is padding
      // The input is the zero-filled reconstruction: close to the target, not equal.
      const p = psnr(t, i, 1);
      expect(p).toBeGreaterThan(10);
      expect(p).toBeLessThan(60);
    }
    expect(data.record.volumes![0]!.validationSlices).toBeGreaterThan(0);
  });

  it('training batches are keyed by example index: a resumed run draws the same crops; another seed differs', async () => {
    const open = (seed: number) => openTrainingData(parseDataSpec(`nifti:${volumeFile}`), { size: 32, crop: 16, seed, undersampling: US });
    const a = await open(1);
    const b = await open(1);
    const whole = a.trainBatch(2, 6);
    const tail = b.trainBatch(5, 3);
    expect(Array.from(tail.inputs)).toEqual(Array.from(whole.inputs.subarray(3 * 256)));
    expect(Array.from(tail.targets)).toEqual(Array.from(whole.targets.subarray(3 * 256)));
    const c = (await open(2)).trainBatch(2, 6);
    expect(Array.from(c.targets)).not.toEqual(Array.from(whole.targets));
    // Most crops hold tissue (empty crops are redrawn).
    let withTissue = 0;
    for (let k = 0; k < 6; k++) if (whole.targets.subarray(k * 256, (k + 1) * 256).some((x) => x > 0.1)) withTissue++;
    expect(withTissue).toBeGreaterThanOrEqual(5);
  });

  it('mix:P draws phantoms for about a share P of the examples; mix:1 is the phantom data; phantoms alone are unchanged', async () => {
    const us = US;
    const mix = await openTrainingData(parseDataSpec(`mix:0.3:${volumeFile}`), { size: 32, crop: 32, seed: 4, undersampling: us });
    const n = 200;
    const batch = mix.trainBatch(0, n);
    let phantoms = 0;
    for (let i = 0; i < n; i++) {
      const ph = makeExample(32, 4, 'train', i, us).target;
      if (Array.from(batch.targets.subarray(i * 1024, (i + 1) * 1024)).every((x, k) => x === ph[k])) phantoms++;
    }
    expect(phantoms / n).toBeGreaterThan(0.2);
    expect(phantoms / n).toBeLessThan(0.4);
    const all = await openTrainingData(parseDataSpec('phantoms'), { size: 32, crop: 16, seed: 4, undersampling: us });
    expect(Array.from(all.trainBatch(3, 2).inputs)).toEqual(Array.from(makeCropBatch(32, 16, 4, 3, 2, us).inputs));
    expect(mix.record).toMatchObject({ data: 'mix:0.3:head.nii', phantomShare: 0.3 });
    // Validation: round(0.3 * 10) = 3 held-out phantoms first, then slices.
    const val = mix.validation(10);
    expect(Array.from(val.targets.subarray(0, 1024))).toEqual(Array.from(makeExample(32, 4, 'val', 0, us).target));
  });
});

describe('augmentation', () => {
  it('blur: a Gaussian that keeps the mass of an impulse and spreads it with the asked sigma', () => {
    const size = 33;
    const image = new Float32Array(size * size);
    image[16 * size + 16] = 1;
    gaussianBlur(image, size, 1.5);
    let mass = 0;
    let second = 0;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      mass += image[y * size + x]!;
      second += image[y * size + x]! * (x - 16) ** 2;
    }
    expect(mass).toBeCloseTo(1, 5);
    expect(Math.sqrt(second / mass)).toBeCloseTo(1.5, 1);
  });

  it('blur off draws nothing: the placements of a run without it are those of before it existed', () => {
    const slice = { width: 40, height: 30 };
    for (let i = 0; i < 20; i++) {
      const a = randomPlacement(slice, 64, keyedRng(1, 'train', 'augment', i), DEFAULT_AUGMENT);
      const b = randomPlacement(slice, 64, keyedRng(1, 'train', 'augment', i), { ...DEFAULT_AUGMENT, maxBlur: 0 });
      expect(b).toEqual(a);
      expect(a.blur).toBeUndefined();
    }
    const blurred = Array.from({ length: 40 }, (_, i) => randomPlacement(slice, 64, keyedRng(1, 'train', 'augment', i), { ...DEFAULT_AUGMENT, maxBlur: 2 }).blur ?? 0);
    expect(blurred.filter((s) => s > 0).length).toBeGreaterThan(10);
    expect(Math.max(...blurred)).toBeLessThanOrEqual(2);
  });

  const slice = { data: Float32Array.from({ length: 12 * 8 }, (_, i) => (i % 12) / 12 + Math.floor(i / 12) / 100), width: 12, height: 8 };

  it('the identity placement copies the slice; a flip mirrors it; zoom shrinks it onto a zero background', () => {
    const id = { m: [1, 0, 0, 1] as [number, number, number, number], tx: 0, ty: 0, scale: 1, gamma: 1 };
    const same = place(slice, 12, id);
    // 12x12 grid, slice 12x8 centred: rows 2..9.
    for (let x = 0; x < 12; x++) expect(same[(2 + 3) * 12 + x]).toBeCloseTo(slice.data[3 * 12 + x]!, 6);
    expect(same[0]).toBe(0);
    const flipped = place(slice, 12, { ...id, m: [-1, 0, 0, 1] });
    for (let x = 0; x < 12; x++) expect(flipped[5 * 12 + x]).toBeCloseTo(slice.data[3 * 12 + (11 - x)]!, 6);
    const fixed = place(slice, 32, fixedPlacement(slice, 32, 0.5));
    expect(fixed[0]).toBe(0);
    expect(Math.max(...fixed)).toBeGreaterThan(0.5);
  });

  it('random placements are keyed: same key, same image; they rotate, zoom and scale intensities within the ranges', () => {
    const a = place(slice, 32, randomPlacement(slice, 32, keyedRng(1, 'x', 3), DEFAULT_AUGMENT));
    const b = place(slice, 32, randomPlacement(slice, 32, keyedRng(1, 'x', 3), DEFAULT_AUGMENT));
    expect(Array.from(a)).toEqual(Array.from(b));
    const scales = Array.from({ length: 50 }, (_, i) => randomPlacement(slice, 32, keyedRng(2, 'p', i), DEFAULT_AUGMENT));
    for (const p of scales) {
      expect(p.scale).toBeGreaterThanOrEqual(0.8);
      expect(p.scale).toBeLessThanOrEqual(1);
      expect(p.gamma).toBeGreaterThanOrEqual(1 / 1.25 - 1e-9);
      expect(p.gamma).toBeLessThanOrEqual(1.25 + 1e-9);
    }
    // All four quarter turns occur (the sign pattern of the map's first column).
    const quadrants = new Set(scales.map((p) => `${Math.sign(Math.round(p.m[0] * 10))},${Math.sign(Math.round(p.m[2] * 10))}`));
    expect(quadrants.size).toBeGreaterThanOrEqual(4);
  });

  it('areaReduce averages blocks, so shrinking keeps the mean intensity', () => {
    const r = areaReduce(slice, 4);
    expect([r.width, r.height]).toEqual([3, 2]);
    const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(r.data)).toBeCloseTo(mean(slice.data), 5);
  });

  it('eval pads to the grid instead of stretching: a 6x4 image sits unchanged in the middle; a larger one keeps its aspect', () => {
    const img = { data: Float32Array.from({ length: 24 }, (_, i) => i + 1), width: 6, height: 4 };
    const { data, note } = padToGrid(img, 8);
    expect(note).toBe('6x4 padded to 8x8');
    expect(Array.from(data.subarray(2 * 8, 3 * 8))).toEqual([0, 1, 2, 3, 4, 5, 6, 0]);
    expect(Array.from(data.subarray(0, 8))).toEqual(new Array(8).fill(0));
    const big = padToGrid({ data: new Float32Array(40 * 20).fill(1), width: 40, height: 20 }, 16);
    expect(big.note).toBe('40x20 shrunk to 16x8 and padded to 16x16');
    expect(big.data.reduce((s, x) => s + x, 0)).toBeCloseTo(16 * 8, 3);
  });
});

describe('train on volumes and fine-tune with init', () => {
  function tinyNet(): LayersModel {
    const input = tf.input({ shape: [null, null, 1] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: x });
  }
  const base = (out: string, data: string): TrainOptions => ({
    out, steps: 2, batch: 2, size: 32, crop: 16, ...US, lr: 1e-2, loss: 'l1', seed: 3, resume: false,
    checkpointEvery: 1, validateEvery: 2, validationSize: 2, float16: false, residual: true, engine: 'tfjs', data: parseDataSpec(data),
  });
  let volumeFile: string;
  beforeAll(async () => {
    await selectBackend('wasm');
    volumeFile = path.join(tempDir(), 'head.nii.gz');
    const plain = path.join(tempDir(), 'h.nii');
    writeVolume(plain);
    writeFileSync(volumeFile, gzipSync(readFileSync(plain)));
  });

  it('trains on a mix and records the data, its split and the augmentation in model.json and the checkpoint', async () => {
    const out = tempDir();
    const result = await trainUNet({ ...base(out, `mix:0.5:${volumeFile}`), model: tinyNet() });
    expect(result.steps).toBe(2);
    const meta = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')).userDefinedMetadata.unetDream;
    expect(meta.data).toBe('mix:0.5:head.nii.gz');
    expect(meta.volumes[0]).toMatchObject({ volume: 'head.nii.gz', shape: [24, 20, 30] });
    expect(meta.volumes[0].validationZ[0]).toBeGreaterThan(meta.volumes[0].trainZEnd);
    expect(meta.augment.flips).toBe(true);
    expect(readFileSync(path.join(out, 'model.json'), 'utf8')).not.toContain(path.dirname(volumeFile));
    // Resume continues on the same data.
    const resumed = await trainUNet({ ...base(out, `mix:0.5:${volumeFile}`), steps: 3, resume: true });
    expect(resumed.steps).toBe(3);
  });

  it('init starts from the given model unchanged (its step-0 validation is its own), not from a zeroed last layer', async () => {
    const from = tempDir();
    const net = tinyNet();
    await saveLayersModel(net, from);
    const out = tempDir();
    await trainUNet({ ...base(out, `nifti:${volumeFile}`), init: from });
    const step0 = JSON.parse(readFileSync(path.join(out, 'train-log.jsonl'), 'utf8').split('\n')[0]!);
    // A zeroed residual net reconstructs exactly the zero-filled input; the initial net does not.
    expect(Math.abs(step0.valPsnr - step0.zeroFilledPsnr)).toBeGreaterThan(0.01);
    expect(JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')).userDefinedMetadata.unetDream.init).toBe(path.basename(from));
    await expect(trainUNet({ ...base(tempDir(), 'phantoms'), init: from, model: tinyNet() })).rejects.toThrow(/^model and init/);
    await expect(trainUNet({ ...base(tempDir(), 'phantoms'), init: path.join(from, 'nothing') })).rejects.toThrow(`${path.join(from, 'nothing')}: no such model file or directory`);
  });
});

const COLIN = '/usr/share/mricron/templates/ch2better.nii.gz';
describe('the Colin27 volume (Debian mricron-data)', () => {
  const installed = existsSync(COLIN);
  if (!installed) it.skip(`skipped: ${COLIN} is absent (apt-get install mricron-data to run it)`, () => undefined);
  else
    it('indexes the real volume: 301x370x316, hundreds of usable slices per axis, a held-out top slab', async () => {
      const data = await openTrainingData(parseDataSpec(`nifti:${COLIN}`), { size: 128, crop: 64, seed: 1, undersampling: US });
      const split = data.record.volumes![0]!;
      expect(split.shape).toEqual([301, 370, 316]);
      expect(split.trainSlices.z).toBeGreaterThan(150);
      expect(split.validationSlices).toBeGreaterThan(20);
      const b = data.trainBatch(0, 2);
      expect(b.size).toBe(64);
    }, 120_000);
});
