/**
 * `activations` on real files: the raw maps equal a direct forward pass of the layer (tfjs
 * model.predict of the model truncated there), the NIfTI volume carries the input's geometry scaled
 * to the layer's stride, top:N ranks channels by mean, and bad options fail with exit 2 before any
 * model loads (the output folder is never made).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { selectBackend } from '../src/engine/backend.js';
import { channelFirst, planeMeans, type ActivationsRecord } from '../src/activations/activations.js';
import { runPipeline } from '../src/pipeline/run.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { loadModel } from '../src/model/load.js';
import { withInputSize } from '../src/model/resize.js';
import { createImage } from '../src/io/image.js';
import { readImages } from '../src/io/read.js';
import { writeImage } from '../src/io/write.js';
import { decodeNpy, encodeNpy } from '../src/io/npy.js';
import { randomPhantom, createRng } from '../src/mri/index.js';
import { percentiles } from '../src/io/intensity.js';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

const AFFINE = [
  [0.9, 0, 0, -30],
  [0, 1.1, 0, -40],
  [0, 0, 3, 12],
  [0, 0, 0, 1],
];

let dir: string;
let input: string;

beforeAll(async () => {
  await selectBackend('cpu');
  dir = tempDir();
  // A 60x44 NIfTI slice (not a multiple of 8: the maps must cover exactly the input's pixels).
  const pixels = randomPhantom({ width: 60, height: 44 }, createRng(3)).map((v) => 100 + 900 * v);
  input = path.join(dir, 'slice.nii');
  await writeImage(createImage(60, 44, 1, pixels, { geometry: { affine: AFFINE } }), input);
});

describe('npy', () => {
  it('round-trips data and shape with a 64-byte aligned header', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i - 3.5);
    const bytes = encodeNpy(data, [2, 3, 4]);
    const header = new TextDecoder().decode(bytes.subarray(0, 128));
    expect(header).toContain("'shape': (2, 3, 4)");
    expect((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64).toBe(0);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual([2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });
});

describe('channel-first maps', () => {
  it('equal a plain transpose of image n, cropped, for channel counts below, at and above the run length', () => {
    for (const [n, h, w, c] of [[2, 5, 37, 3], [3, 4, 16, 16], [2, 3, 21, 70]] as const) {
      const data = Float32Array.from({ length: n * h * w * c }, (_, i) => Math.sin(i * 0.37) * 10);
      const maps = { data, n, height: h, width: w, channels: c };
      const [ch, cw] = [h - 1, w - 2];
      const got = channelFirst(maps, n - 1, ch, cw);
      const want = new Float32Array(c * ch * cw);
      for (let k = 0; k < c; k++) for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) want[(k * ch + y) * cw + x] = data[(((n - 1) * h + y) * w + x) * c + k]!;
      expect(Array.from(got)).toEqual(Array.from(want));
      const means = planeMeans(got, c, ch * cw);
      expect(means[c - 1]).toBeCloseTo(want.subarray((c - 1) * ch * cw).reduce((a, b) => a + b, 0) / (ch * cw), 4);
    }
  });
});

describe('activations mode', () => {
  it('writes maps equal to model.predict of the truncated model, sheets that decode and a NIfTI in the scaled geometry', async () => {
    const out = path.join(dir, 'out');
    const layers = ['dconv64', 'dconv128', 'conv512', 'uconv128'];
    const manifest = await runPipeline(validatePipeline({ model: { backend: 'onnx' }, seed: { inputs: [input] }, ascend: { mode: 'activations', layers, channels: 'top:6' }, write: { out } }), { command: 'test' });
    const record = manifest.results[0] as ActivationsRecord;
    expect(record.error).toBeUndefined();

    // The reference: the slice as the reader presents it, the same windowing, edge padding to 64x48,
    // and a truncated tfjs model.
    const [src] = await readImages(input);
    const pixels = src!.data;
    const A = src!.meta.geometry!.affine;
    const [lo, hi] = percentiles(createImage(60, 44, 1, pixels), [0.5, 99.5]) as [number, number];
    const padded = new Float32Array(64 * 48);
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) padded[y * 64 + x] = (pixels[Math.min(y, 43) * 60 + Math.min(x, 59)]! - lo) / (hi - lo);
    const model = await withInputSize((await loadModel('builtin')).model, 48, 64);
    const sized = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor) });
    const direct = tf.tidy(() => (sized.predict(tf.tensor4d(padded, [1, 48, 64, 1])) as tf.Tensor[]).map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array })));

    for (const [i, l] of record.layers!.entries()) {
      const { data, shape } = decodeNpy(readFileSync(path.join(out, l.npy)));
      const [, h, w, c] = direct[i]!.shape as number[];
      const stride = 64 / w!;
      expect(shape).toEqual([c, Math.ceil(44 / stride), Math.ceil(60 / stride)]);
      let maxAbs = 0;
      let worst = 0;
      for (let k = 0; k < c!; k++) {
        for (let y = 0; y < shape[1]!; y++) {
          for (let x = 0; x < shape[2]!; x++) {
            const ref = direct[i]!.data[(y * w! + x) * c! + k]!;
            maxAbs = Math.max(maxAbs, Math.abs(ref));
            worst = Math.max(worst, Math.abs(ref - data[(k * shape[1]! + y) * shape[2]! + x]!));
          }
        }
      }
      expect(maxAbs, `${l.layer} is not all zero`).toBeGreaterThan(0);
      expect(worst / maxAbs, `${l.layer} vs predict`).toBeLessThan(1e-4);
      expect(h).toBe(48 / stride);

      // top:6 = the six highest channel means, highest first, as labelled.
      const means = Array.from({ length: c! }, (_, k) => {
        let s = 0;
        for (let p = 0; p < shape[1]! * shape[2]!; p++) s += data[k * shape[1]! * shape[2]! + p]!;
        return s / (shape[1]! * shape[2]!);
      });
      const ranked = means.map((m, k) => [m, k] as const).sort((a, b) => b[0] - a[0]).slice(0, 6).map(([, k]) => k);
      expect(l.shown.map((s: { channel: number }) => s.channel)).toEqual(ranked);
      l.shown.forEach((s: { channel: number; mean: number }) => expect(s.mean).toBeCloseTo(means[s.channel]!, 4));

      const meta = await sharp(path.join(out, l.sheet)).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(200);

      // The NIfTI: one channel per slice, voxel (i, j) centred on the input pixels it covers.
      const vol = await readImages(path.join(out, l.nifti!));
      expect(vol.length).toBe(c);
      expect([vol[0]!.width, vol[0]!.height]).toEqual([shape[2], shape[1]]);
      const a = vol[0]!.meta.geometry!.affine;
      expect(Math.abs(A[0]![0]!)).toBeCloseTo(0.9, 4);
      expect(a[0]![0]!).toBeCloseTo(A[0]![0]! * stride, 4);
      expect(a[1]![1]!).toBeCloseTo(A[1]![1]! * stride, 4);
      expect(a[0]![3]!).toBeCloseTo(A[0]![3]! + (A[0]![0]! * (stride - 1)) / 2, 3);
      expect(a[1]![3]!).toBeCloseTo(A[1]![3]! + (A[1]![1]! * (stride - 1)) / 2, 3);
      const k = l.shown[0]!.channel;
      const plane = shape[1]! * shape[2]!;
      let diff = 0;
      vol[k]!.data.forEach((v, p) => (diff = Math.max(diff, Math.abs(v - data[k * plane + p]!))));
      expect(diff).toBeLessThan(1e-5 * Math.max(1, maxAbs));
    }
  });
});

describe('activations CLI: bad options fail before any model loads', () => {
  const run = (...argv: string[]) => captureOutput(() => main(argv));
  it.each([
    [['--layers', 'dconv65'], /--layers: unknown layer "dconv65" \(did you mean "dconv64"\?\); valid layers: .*dconv64/],
    [['--layers', 'dconv64', '--channels', '70'], /--channels: channel 70 is out of range: layer dconv64 has 64 channels, valid 0-63/],
    [['--layers', 'dconv64', '--channels', 'first:3'], /Expected a range \(0-15\), a list \(3,5,9\), random:N, top:N or all for --channels but received "first:3"/],
    [['--layers', 'dconv64', '--window', '90,10'], /--window/],
    [[], /--layers/],
  ])('%j', async (flags, message) => {
    const out = path.join(dir, 'bad');
    const { result, stderr } = await run('activations', input, '--out', out, ...flags);
    expect(result).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
    // Refused during validation: the run never opened, so no output folder was made.
    expect(existsSync(out)).toBe(false);
  });

  it('reports an unreadable input and still writes the others (exit 1)', async () => {
    const out = path.join(dir, 'mixed');
    const { result, stderr } = await run('activations', input, path.join(dir, 'missing.nii'), '--layers', 'conv512', '--channels', '0-3', '--out', out);
    expect(result).toBe(1);
    expect(stderr).toMatch(/warning: .*missing\.nii: no such file or directory/);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.results).toHaveLength(2);
    expect(manifest.results.filter((r: ActivationsRecord) => r.layers?.[0]?.layer === 'conv512')).toHaveLength(1);
    // The run context's finish: the HTML report beside the outputs, as every mode's run has.
    expect(existsSync(path.join(out, 'index.html'))).toBe(true);
  });
});

describe('activation maps as NIfTI, next to their source', () => {
  const source = path.resolve('../shared/realdata/nifti/niftireaderjs_avg152T1_LR_nifti.nii.gz');
  /** dim[1..3], qform/sform codes and the three srow rows of a gzipped NIfTI-1 file. */
  const header = (file: string) => {
    const raw = file.endsWith('.gz') ? gunzipSync(readFileSync(file)) : readFileSync(file);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const le = v.getInt32(0, true) === 348; // the source is big-endian, outputs little-endian
    const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => v.getFloat32(280 + r * 16 + c * 4, le)));
    return { dims: [1, 2, 3].map((i) => v.getInt16(40 + i * 2, le)), codes: [v.getInt16(252, le), v.getInt16(254, le)], srow };
  };

  it.runIf(existsSync(source))("keep the source's in-plane voxel order, its affine (slice offset moved) and its codes", async () => {
    const out = path.join(tempDir(), 'act');
    const { result } = await captureOutput(() => main(['activations', `${source}#z=40`, '--layers', 'dconv64', '--channels', '0-3', '--out', out, '--backend', 'onnx']));
    expect(result).toBe(0);
    const src = header(source);
    const map = header(path.join(out, 'niftireaderjs_avg152T1_LR_nifti_z40_dconv64.nii.gz'));
    // The source is 91 x 109 x 91 with j running posterior -> anterior (srow_y = [0, 2, 0, -126]): the map's in-plane
    // axes are the source's, not the flipped display order (which would give srow_y = [0, -2, 0, 90]).
    expect(map.dims).toEqual([91, 109, 64]);
    expect(map.codes).toEqual(src.codes);
    for (const r of [0, 1, 2]) for (const c of [0, 1, 2]) expect(map.srow[r]![c]).toBeCloseTo(src.srow[r]![c]!, 5);
    // Voxel (0, 0) of channel 0 sits where voxel (0, 0, 40) of the source does.
    for (const r of [0, 1, 2]) expect(map.srow[r]![3]).toBeCloseTo(src.srow[r]![3]! + 40 * src.srow[r]![2]!, 4);
  });
});
