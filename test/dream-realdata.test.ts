/**
 * Dream outputs read as an MR researcher's tools read them (issue 14, "Tests with real readers' semantics"), for
 * every NIfTI and DICOM file in ../shared/realdata/PROVENANCE.tsv (the MALFORMED ones excepted):
 * - a 0-step dream writes an output whose voxel array (in the file's own voxel order, scaled as nibabel's
 *   get_fdata does), affine, datatype and key header fields equal the input's;
 * - a 1-step dream of one slice keeps the voxel order (correlation with the input slice > 0.95) and the range.
 * NIfTI files are parsed here from their bytes (not through src/io), so a flip that the reader would undo cannot
 * hide. Skipped, with a message, when ../shared/realdata is absent. A tiny model keeps it fast.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { readImages } from '../src/io/read.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { captureOutput, tempDir, tinyConvNet } from './helpers.js';

const REALDATA = path.resolve('../shared/realdata');
const present = existsSync(path.join(REALDATA, 'PROVENANCE.tsv'));
if (!present) console.log(`dream-realdata: ${REALDATA}/PROVENANCE.tsv not found; the real-data dream tests are skipped`);

const rows = present
  ? readFileSync(path.join(REALDATA, 'PROVENANCE.tsv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'))
      .filter((c) => /^(dicom|nifti)\//.test(c[0] ?? '') && !(c[6] ?? '').includes('MALFORMED'))
      .map((c) => c[0]!)
  : [];

interface RawNifti {
  datatype: number;
  dims: number[];
  pixdim: number[];
  dimInfo: number;
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  quatern: number[];
  qoffset: number[];
  srow: number[][];
  /** Voxels in file order (i fastest), scaled by scl_slope / scl_inter as get_fdata does. */
  data: Float64Array;
}

/** A NIfTI-1 file as nibabel reads it: header fields as stored, voxels in the file's order. */
function readRawNifti(file: string): RawNifti {
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getInt32(0, true) === 348;
  const i16 = (o: number) => view.getInt16(o, le);
  const f32 = (o: number) => view.getFloat32(o, le);
  const dims = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
  const datatype = i16(70);
  const pixdim = Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i));
  const offset = f32(108);
  const slope = f32(112);
  const inter = f32(116);
  const n = dims.slice(1, dims[0]! + 1).reduce((a, b) => a * b, 1);
  const readers: Record<number, [number, (o: number) => number]> = {
    2: [1, (o) => view.getUint8(o)],
    4: [2, (o) => view.getInt16(o, le)],
    8: [4, (o) => view.getInt32(o, le)],
    16: [4, (o) => view.getFloat32(o, le)],
    64: [8, (o) => view.getFloat64(o, le)],
    256: [1, (o) => view.getInt8(o)],
    512: [2, (o) => view.getUint16(o, le)],
    768: [4, (o) => view.getUint32(o, le)],
  };
  const [size, read] = readers[datatype]!;
  const data = new Float64Array(n);
  const scaled = slope !== 0 && Number.isFinite(slope);
  for (let i = 0; i < n; i++) data[i] = scaled ? read(offset + i * size) * slope + inter : read(offset + i * size);
  return {
    datatype,
    dims,
    pixdim,
    dimInfo: view.getUint8(39),
    xyztUnits: view.getUint8(123),
    qformCode: i16(252),
    sformCode: i16(254),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))),
    data,
  };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const DICOM_FIELDS = ['Rows', 'Columns', 'BitsAllocated', 'BitsStored', 'PixelRepresentation', 'PhotometricInterpretation', 'PixelSpacing', 'ImageOrientationPatient', 'ImagePositionPatient', 'SliceThickness', 'RescaleSlope', 'RescaleIntercept', 'RescaleType', 'WindowCenter', 'WindowWidth'];

let model: string;
const run = (...argv: string[]) => captureOutput(() => main(argv));
const dreamFlags = (steps: number) => ['--model', model, '--layers', 'c2', '--octaves', '1', '--steps', String(steps), '--step', '0.05', '--jitter', '0', '--backend', 'wasm'];

describe.skipIf(!present)('dream on every real NIfTI and DICOM file', () => {
  beforeAll(async () => {
    model = tempDir('unet-dream-tiny-');
    await saveLayersModel(tinyConvNet(3, 'tanh'), model);
  });

  it('finds the files to test', () => {
    expect(rows.filter((r) => r.startsWith('nifti/')).length).toBeGreaterThanOrEqual(2);
    expect(rows.filter((r) => r.startsWith('dicom/')).length).toBeGreaterThanOrEqual(4);
  });

  for (const rel of rows) {
    const input = path.join(REALDATA, rel);
    it(`${rel}: 0 steps give back the input's voxels, affine, datatype and header`, async () => {
      const out = path.join(tempDir(), 'out');
      const { result, stderr } = await run('dream', input, ...dreamFlags(0), '--out', out);
      expect(result, stderr).toBe(0);
      const outputs = (JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).results[0].outputs as string[]).map((f) => path.join(out, f));
      if (rel.startsWith('nifti/')) {
        expect(outputs).toHaveLength(1);
        const a = readRawNifti(input);
        const b = readRawNifti(outputs[0]!);
        expect(b.datatype).toBe(a.datatype);
        expect(b.dims).toEqual(a.dims);
        expect(b.pixdim).toEqual(a.pixdim);
        expect([b.dimInfo, b.xyztUnits, b.qformCode, b.sformCode]).toEqual([a.dimInfo, a.xyztUnits, a.qformCode, a.sformCode]);
        expect(b.srow).toEqual(a.srow);
        if (a.qformCode > 0) expect([b.quatern, b.qoffset]).toEqual([a.quatern, a.qoffset]);
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
      } else {
        const before = await readImages(input);
        expect(outputs).toHaveLength(before.length);
        for (const [i, file] of outputs.entries()) {
          const [after] = await readImages(file);
          expect(Array.from(after!.data), `frame ${i}`).toEqual(Array.from(before[i]!.data));
          const src = before[i]!.meta.dicom!.dataset as Record<string, unknown>;
          const dst = after!.meta.dicom!.dataset as Record<string, unknown>;
          for (const k of DICOM_FIELDS) if (src[k] !== undefined) expect(dst[k], k).toEqual(src[k]);
          for (const k of ['RescaleSlope', 'RescaleIntercept']) if (src[k] === undefined) expect(dst[k], `${k} added`).toBeUndefined();
        }
      }
    });

    it(`${rel}: 1 step on one slice keeps the voxel order (correlation > 0.95) and the input's range`, async () => {
      const [first] = await readImages(input, { slice: 0 });
      const selector = first!.meta.nifti ? `#z=${Math.floor(first!.meta.nifti.dims[3]! / 2)}` : first!.meta.sliceCount > 1 ? '#frame=1' : '';
      const out = path.join(tempDir(), 'out');
      const { result, stderr } = await run('dream', `${input}${selector}`, ...dreamFlags(1), '--out', out);
      expect(result, stderr).toBe(0);
      const [file] = (JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).results[0].outputs as string[]).map((f) => path.join(out, f));
      const [source] = await readImages(path.join(REALDATA, rel), selector ? { slice: Number(selector.split('=')[1]), ...(first!.meta.nifti ? { axis: 'z' as const } : {}) } : {});
      const { min, max } = source!.meta.range;
      if (rel.startsWith('nifti/')) {
        // In the file's own voxel order: the input's slice k (voxel axis 2 is z for these files) against the output.
        const a = readRawNifti(input);
        const b = readRawNifti(file!);
        const [nx, ny] = [a.dims[1]!, a.dims[2]!];
        expect([b.dims[1], b.dims[2], b.dims[3]]).toEqual([nx, ny, 1]);
        const k = Number(selector.split('=')[1]);
        const slice = a.data.subarray(k * nx * ny, (k + 1) * nx * ny);
        expect(correlation(slice, b.data)).toBeGreaterThan(0.95);
        expect(Math.min(...b.data)).toBeGreaterThanOrEqual(min);
        expect(Math.max(...b.data)).toBeLessThanOrEqual(max);
      } else {
        const [after] = await readImages(file!);
        expect(correlation(source!.data, after!.data)).toBeGreaterThan(0.95);
        expect(after!.meta.range.min).toBeGreaterThanOrEqual(min);
        expect(after!.meta.range.max).toBeLessThanOrEqual(max);
      }
      expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  }
});
