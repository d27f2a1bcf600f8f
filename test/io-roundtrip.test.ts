/**
 * The io half of issue 14's "0-step dream": every NIfTI and DICOM file in ../shared/realdata, read and written back
 * with its pixel values unchanged, gives a file whose voxels, geometry, datatype and key header fields equal the
 * input's, as independent readers see them (nifti-reader-js for NIfTI, dcmjs for DICOM; neither is our writer).
 * Tests are skipped, with a note, when ../shared/realdata is absent.
 */
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImages, readImage, readImages, writeImage, writeImages, type RawImage } from '../src/io/index.js';

const require = createRequire(import.meta.url);
const REALDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/realdata');
const real = (rel: string) => path.join(REALDATA, rel);
const has = (rel: string) => existsSync(real(rel));
const NIFTI = ['nifti/nibabel_anatomical.nii', 'nifti/niftireaderjs_avg152T1_LR_nifti.nii.gz'];
const DICOM = ['dicom/pydicom_MR_small.dcm', 'dicom/pydicom_MR_small_RLE.dcm', 'dicom/pydicom_MR_small_jp2klossless.dcm', 'dicom/pydicomdata_emri_small.dcm', 'dicom/pydicomdata_MR2_UNCR.dcm'];
for (const f of [...NIFTI, ...DICOM]) if (!has(f)) console.log(`io-roundtrip: ${real(f)} not found; its test is skipped`);

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'io-roundtrip-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Index of the first difference (-1 when equal): toEqual on million-element arrays is slow. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------------------------
// NIfTI through nifti-reader-js: the header as stored, and the voxels in file order (scaled as a reader would).

interface Parsed {
  h: nifti.NIFTI1;
  voxels: Float64Array;
  raw: Float64Array;
}

async function parseNifti(file: string): Promise<Parsed> {
  let bytes: Buffer = await fs.readFile(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const h = nifti.readHeader(buffer) as nifti.NIFTI1;
  const image = nifti.readImage(h, buffer);
  const view = new DataView(image);
  const size = h.numBitsPerVoxel / 8;
  const n = image.byteLength / size;
  const raw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * size;
    switch (h.datatypeCode) {
      case 2: raw[i] = view.getUint8(at); break;
      case 4: raw[i] = view.getInt16(at, h.littleEndian); break;
      case 512: raw[i] = view.getUint16(at, h.littleEndian); break;
      case 8: raw[i] = view.getInt32(at, h.littleEndian); break;
      case 16: raw[i] = view.getFloat32(at, h.littleEndian); break;
      case 64: raw[i] = view.getFloat64(at, h.littleEndian); break;
      default: throw new Error(`test reader: datatype ${h.datatypeCode}`);
    }
  }
  const slope = h.scl_slope === 0 || !Number.isFinite(h.scl_slope) ? 1 : h.scl_slope;
  const inter = slope === 1 && (h.scl_slope === 0 || !Number.isFinite(h.scl_slope)) ? 0 : h.scl_inter;
  return { h, raw, voxels: raw.map((v) => v * slope + inter) };
}

function keyFields(h: nifti.NIFTI1) {
  return {
    dims: h.dims.slice(0, h.dims[0]! + 1),
    datatype: h.datatypeCode,
    pixdim: h.pixDims.slice(0, h.dims[0]! + 1),
    qform_code: h.qform_code,
    sform_code: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    affine: h.affine,
    xyzt_units: h.xyzt_units,
    dim_info: h.dim_info,
    cal: [h.cal_min, h.cal_max],
    intent_code: h.intent_code,
  };
}

describe('NIfTI: read, then write the values unchanged', () => {
  for (const rel of NIFTI) {
    it.skipIf(!has(rel))(`${path.basename(rel)}: the volume written back equals the input (voxels in file order, affine, datatype, header)`, async () => {
      const input = await parseNifti(real(rel));
      const slices = await readImages(real(rel));
      for (const name of ['out.nii', 'out.nii.gz']) {
        const file = path.join(dir, `${path.basename(rel)}-${name}`);
        await writeImages(slices, file);
        const output = await parseNifti(file);
        expect(keyFields(output.h)).toEqual(keyFields(input.h));
        expect(firstDifference(output.voxels, input.voxels)).toBe(-1);
        expect(firstDifference(output.raw, input.raw)).toBe(-1); // same stored integers: no rescale added
      }
    });

    it.skipIf(!has(rel))(`${path.basename(rel)}: one axial slice keeps the voxel order; only the slice offset moves`, async () => {
      const input = await parseNifti(real(rel));
      const [nx, ny, nz] = [input.h.dims[1]!, input.h.dims[2]!, input.h.dims[3]!];
      const k = Math.floor(nz / 2) - 3;
      // Display slice s along z is voxel k = s when the file's k axis runs inferior -> superior (both files do).
      const slice = await readImage(real(rel), { axis: 'z', slice: k });
      const file = path.join(dir, `${path.basename(rel)}-slice.nii.gz`);
      await writeImage(slice, file);
      const output = await parseNifti(file);
      expect(output.h.dims.slice(0, 4)).toEqual([3, nx, ny, 1]);
      expect(output.h.datatypeCode).toBe(input.h.datatypeCode);
      expect([output.h.qform_code, output.h.sform_code]).toEqual([input.h.qform_code, input.h.sform_code]);
      // The voxel slab k of the input, in the input's (i, j) order: no j flip.
      expect(firstDifference(output.voxels, input.voxels.slice(k * nx * ny, (k + 1) * nx * ny))).toBe(-1);
      const moved = input.h.affine.map((row) => row.slice());
      for (let r = 0; r < 3; r++) moved[r]![3] = input.h.affine[r]![3]! + input.h.affine[r]![2]! * k;
      output.h.affine.slice(0, 3).forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(moved[r]![c]!, 4)));
      expect(output.h.affine.slice(0, 3).map((row) => row.slice(0, 3))).toEqual(input.h.affine.slice(0, 3).map((row) => row.slice(0, 3)));
    });
  }

  it('a 4-D file: every volume by default, written back 4-D with its TR and units; one picked volume is 3-D', async () => {
    // 5x4x3 voxels x 3 volumes, int16, TR 2.5 s (xyzt_units mm + s), dim_info set, qform and sform.
    const [nx, ny, nz, nt] = [5, 4, 3, 3];
    const bytes = new Uint8Array(352 + nx * ny * nz * nt * 2);
    const v = new DataView(bytes.buffer);
    v.setInt32(0, 348, true);
    bytes[39] = 1 | (2 << 2) | (3 << 4);
    [4, nx, ny, nz, nt, 1, 1, 1].forEach((d, i) => v.setInt16(40 + i * 2, d, true));
    v.setInt16(70, 4, true);
    v.setInt16(72, 16, true);
    [-1, 2, 2, 3, 2.5, 0, 0, 0].forEach((p, i) => v.setFloat32(76 + i * 4, p, true));
    v.setFloat32(108, 352, true);
    bytes[123] = 2 | 8;
    v.setInt16(252, 1, true);
    v.setInt16(254, 2, true);
    v.setFloat32(264, 0, true);
    [10, -20, 30].forEach((o, i) => v.setFloat32(268 + i * 4, o, true));
    [[-2, 0, 0, 10], [0, 2, 0, -20], [0, 0, 3, 30]].forEach((row, r) => row.forEach((x, c) => v.setFloat32(280 + r * 16 + c * 4, x, true)));
    bytes.set([0x6e, 0x2b, 0x31, 0], 344);
    for (let i = 0; i < nx * ny * nz * nt; i++) v.setInt16(352 + i * 2, (i * 7) % 1000, true);
    const file = path.join(dir, 'fmri.nii.gz');
    await fs.writeFile(file, gzipSync(bytes));

    const all = await readImages(file);
    expect(all).toHaveLength(nz * nt);
    expect(all.map((i) => i.meta.nifti!.volume)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    const out = path.join(dir, 'fmri-out.nii');
    await writeImages(all, out);
    const input = await parseNifti(file);
    const output = await parseNifti(out);
    expect(keyFields(output.h)).toEqual(keyFields(input.h));
    expect(output.h.pixDims[4]).toBe(2.5);
    expect(firstDifference(output.voxels, input.voxels)).toBe(-1);

    const one = await readImages(file, { volume: 1 });
    expect(one).toHaveLength(nz);
    const outOne = path.join(dir, 'fmri-t1.nii');
    await writeImages(one, outOne);
    const t1 = await parseNifti(outOne);
    expect(t1.h.dims.slice(0, 5)).toEqual([3, nx, ny, nz, 1]);
    expect(firstDifference(t1.voxels, input.voxels.slice(nx * ny * nz, 2 * nx * ny * nz))).toBe(-1);
    expect([t1.h.pixDims[4], t1.h.toffset, t1.h.xyzt_units, t1.h.dim_info]).toEqual([2.5, 2.5, 10, bytes[39]]);
  });

  it('integer outputs are rounded into the source datatype; scl_slope / scl_inter appear only when the values need them', async () => {
    const rel = NIFTI[0]!;
    if (!has(rel)) return;
    const slices = await readImages(real(rel));
    const shifted = slices.map((s) => ({ ...s, data: s.data.map((x) => x + 0.4) }));
    const file = path.join(dir, 'rounded.nii');
    await writeImages(shifted, file);
    const input = await parseNifti(real(rel));
    const out = await parseNifti(file);
    expect(out.h.datatypeCode).toBe(4);
    expect(out.h.scl_slope).toBe(1); // the source's own (1, 0): unchanged
    expect(firstDifference(out.voxels, input.voxels)).toBe(-1);
    // Values beyond int16: a scaling is needed, and written.
    const big = slices.map((s) => ({ ...s, data: s.data.map((x) => x * 4) }));
    await writeImages(big, file);
    const scaled = await parseNifti(file);
    expect(scaled.h.datatypeCode).toBe(4);
    expect(scaled.h.scl_slope).toBeGreaterThan(1);
    const maxIn = Math.max(...input.voxels) * 4;
    expect(Math.abs(Math.max(...scaled.voxels) - maxIn)).toBeLessThanOrEqual(scaled.h.scl_slope);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// DICOM through dcmjs: attributes as the file spells them, and the stored pixel words.

type Element = { vr: string; Value?: unknown[]; _rawValue?: unknown[] };
type Dict = Record<string, Element>;
const dcmjs = require('dcmjs') as { data: { DicomMessage: { readFile(b: ArrayBuffer): { dict: Dict } } } };

function parseDicom(bytes: Uint8Array): Dict {
  return dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).dict;
}
const TAGS = {
  BitsAllocated: '00280100',
  BitsStored: '00280101',
  HighBit: '00280102',
  PixelRepresentation: '00280103',
  Photometric: '00280004',
  Rows: '00280010',
  Columns: '00280011',
  PixelSpacing: '00280030',
  ImageOrientationPatient: '00200037',
  ImagePositionPatient: '00200032',
  WindowCenter: '00281050',
  WindowWidth: '00281051',
  RescaleIntercept: '00281052',
  RescaleSlope: '00281053',
  RescaleType: '00281054',
  InstanceCreatorUID: '00080014',
} as const;
const rawOf = (e: Element | undefined) => (e ? (e._rawValue ?? e.Value)?.map((v) => (typeof v === 'string' ? v.trim() : v)) : undefined);

/** An attribute of frame F as the source spells it: per-frame group, shared group, else top level. */
function sourceAttribute(dict: Dict, tag: string, f: number): unknown[] | undefined {
  const groups = [dict['52009230']?.Value?.[f], dict['52009229']?.Value?.[0]] as (Dict | undefined)[];
  for (const g of groups) {
    if (!g) continue;
    for (const seq of Object.values(g)) {
      const item = seq.Value?.[0] as Dict | undefined;
      if (item && typeof item === 'object' && item[tag]) return rawOf(item[tag]);
    }
  }
  return rawOf(dict[tag]);
}

describe('DICOM: read, then write the values unchanged', () => {
  for (const rel of DICOM) {
    it.skipIf(!has(rel))(`${path.basename(rel)}: each frame written back keeps the stored values, rescale, window and the source's strings`, async () => {
      const source = parseDicom(new Uint8Array(await fs.readFile(real(rel))));
      const frames = await readImages(real(rel));
      for (const [f, frame] of frames.entries()) {
        const bytes = await encodeImages([frame], 'dicom');
        const out = parseDicom(bytes);
        for (const name of ['BitsAllocated', 'BitsStored', 'PixelRepresentation', 'Rows', 'Columns', 'Photometric'] as const) {
          expect([name, rawOf(out[TAGS[name]])]).toEqual([name, sourceAttribute(source, TAGS[name], f)]);
        }
        for (const name of ['PixelSpacing', 'ImageOrientationPatient', 'ImagePositionPatient', 'WindowCenter', 'WindowWidth', 'RescaleSlope', 'RescaleIntercept', 'RescaleType'] as const) {
          // Equal to the source's, absence included: a source without a window gets none (docs/INPUTS.md).
          expect([name, rawOf(out[TAGS[name]])]).toEqual([name, sourceAttribute(source, TAGS[name], f)]);
        }
        expect(out[TAGS.InstanceCreatorUID]).toBeUndefined();
        // The same values through our reader, and the same stored words as the source's own decode.
        const file = path.join(dir, `${path.basename(rel)}-${f}.dcm`);
        await fs.writeFile(file, bytes);
        const back = await readImage(file);
        expect(firstDifference(back.data, frame.data)).toBe(-1);
        expect(back.meta.dtype).toBe(frame.meta.dtype);
      }
    });
  }
});

describe('DICOM: changed values', () => {
  const rel = 'dicom/pydicom_MR_small.dcm';
  it.skipIf(!has(rel))('values that fit the source representation are rounded into it: no rescale is added to an MR that had none', async () => {
    const frame = await readImage(real(rel));
    const changed = { ...frame, data: frame.data.map((v, i) => v + (i % 3) * 0.3) };
    const out = parseDicom(await encodeImages([changed], 'dicom'));
    expect(out[TAGS.RescaleSlope]).toBeUndefined();
    expect(out[TAGS.RescaleIntercept]).toBeUndefined();
    expect(rawOf(out[TAGS.WindowCenter])).toEqual(['600']);
    const file = path.join(dir, 'rounded.dcm');
    await fs.writeFile(file, await encodeImages([changed], 'dicom'));
    const back = await readImage(file);
    expect(firstDifference(back.data, changed.data.map((v) => Math.round(v)))).toBe(-1);
  });

  it.skipIf(!has(rel))('values beyond the source representation get a new rescale (with RescaleType) rather than being clipped', async () => {
    const frame = await readImage(real(rel));
    const changed = { ...frame, data: frame.data.map((v) => v * 40) }; // up to 85800: beyond int16
    const bytes = await encodeImages([changed], 'dicom');
    const out = parseDicom(bytes);
    const slope = Number(rawOf(out[TAGS.RescaleSlope])?.[0]);
    expect(slope).toBeGreaterThan(1);
    expect(rawOf(out[TAGS.RescaleType])).toEqual(['US']);
    const file = path.join(dir, 'rescaled.dcm');
    await fs.writeFile(file, bytes);
    const back = await readImage(file);
    let worst = 0;
    back.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - changed.data[i]!))));
    expect(worst).toBeLessThanOrEqual(slope / 2 + 0.01); // half a grid step, plus float32 rounding at 85800
  });
});

export type { RawImage };
