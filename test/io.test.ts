/**
 * src/io on inputs the test makes itself: round trips (16-bit PNG, TIFF, NIfTI, DICOM), NIfTI orientation,
 * content sniffing, errors, percentile windows, folder walking and DICOM series.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../src/errors.js';
import {
  applyWindow,
  createImage,
  dropAlpha,
  percentileWindow,
  readDicomSeries,
  readImage,
  readImages,
  toGray,
  unwindow,
  walkInputs,
  writeImage,
  writeImages,
  type RawImage,
} from '../src/io/index.js';

const require = createRequire(import.meta.url);

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'io-test-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
const tmp = (name: string) => path.join(dir, name);

async function expectInputError(promise: Promise<unknown>, file: string, reason: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected an InputError for ${file}`).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.exitCode).toBe(1);
  expect(e.input).toBe(file);
  expect(e.message).toBe(`${file}: ${e.reason}`);
  expect(e.message).not.toContain('\n');
  expect(e.reason).toMatch(reason);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function expectAffineClose(a: number[][] | undefined, b: number[][] | undefined, tolerance = 1e-4): void {
  expect(a).toBeDefined();
  expect(b).toBeDefined();
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(Math.abs(a![r]![c]! - b![r]![c]!)).toBeLessThan(tolerance);
}

// ------------------------------------------------------------------------------------------------------------------
// A NIfTI writer for tests, independent of the project's: any byte order, NIfTI-1 or -2, any transform.

interface NiftiSpec {
  dims: number[]; // [nx, ny, nz, nt?]
  datatype: 2 | 4 | 16; // uint8, int16, float32
  voxel: (i: number, j: number, k: number, t: number) => number;
  littleEndian?: boolean;
  version?: 1 | 2;
  sform?: number[][]; // 3x4 rows; sform_code 2 when given
  sclSlope?: number;
  sclInter?: number;
}

function makeNifti(spec: NiftiSpec): Uint8Array {
  const le = spec.littleEndian ?? true;
  const v2 = spec.version === 2;
  const [nx, ny, nz, nt = 1] = spec.dims as [number, number, number, number?];
  const bytes = spec.datatype === 2 ? 1 : spec.datatype === 4 ? 2 : 4;
  const offset = v2 ? 544 : 352;
  const out = new Uint8Array(offset + nx * ny * nz * nt * bytes);
  const v = new DataView(out.buffer);
  const dims = [spec.dims.length, nx, ny, nz, nt, 1, 1, 1];
  const pixdim = [1, 1, 1, 1, 1, 0, 0, 0];
  if (spec.sform) for (let a = 0; a < 3; a++) pixdim[a + 1] = Math.hypot(spec.sform[0]![a]!, spec.sform[1]![a]!, spec.sform[2]![a]!);
  const code = spec.sform ? 2 : 0;
  if (!v2) {
    v.setInt32(0, 348, le);
    dims.forEach((d, i) => v.setInt16(40 + i * 2, d, le));
    v.setInt16(70, spec.datatype, le);
    v.setInt16(72, bytes * 8, le);
    pixdim.forEach((p, i) => v.setFloat32(76 + i * 4, p, le));
    v.setFloat32(108, offset, le);
    v.setFloat32(112, spec.sclSlope ?? 0, le);
    v.setFloat32(116, spec.sclInter ?? 0, le);
    v.setInt16(254, code, le);
    if (spec.sform) spec.sform.forEach((row, r) => row.forEach((x, c) => v.setFloat32(280 + r * 16 + c * 4, x, le)));
    out.set([0x6e, 0x2b, 0x31, 0], 344);
  } else {
    v.setInt32(0, 540, le);
    out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    v.setInt16(12, spec.datatype, le);
    v.setInt16(14, bytes * 8, le);
    dims.forEach((d, i) => v.setBigInt64(16 + i * 8, BigInt(d), le));
    pixdim.forEach((p, i) => v.setFloat64(104 + i * 8, p, le));
    v.setBigInt64(168, BigInt(offset), le);
    v.setFloat64(176, spec.sclSlope ?? 0, le);
    v.setFloat64(184, spec.sclInter ?? 0, le);
    v.setInt32(348, code, le);
    if (spec.sform) spec.sform.forEach((row, r) => row.forEach((x, c) => v.setFloat64(400 + r * 32 + c * 8, x, le)));
  }
  let at = offset;
  for (let t = 0; t < nt; t++)
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, at += bytes) {
          const x = spec.voxel(i, j, k, t);
          if (spec.datatype === 2) v.setUint8(at, x);
          else if (spec.datatype === 4) v.setInt16(at, x, le);
          else v.setFloat32(at, x, le);
        }
  return out;
}

const code = (i: number, j: number, k: number, t = 0) => i + 10 * j + 100 * k + 1000 * t;

/** The header half of a NIfTI .hdr/.img pair: magic 'ni1', no voxels. */
function analyzeHeader(): Uint8Array {
  const hdr = makeNifti({ dims: [2, 2, 1], datatype: 2, voxel: () => 0 }).slice(0, 348);
  hdr.set([0x6e, 0x69, 0x31, 0], 344);
  return hdr;
}

// ------------------------------------------------------------------------------------------------------------------

describe('image helpers', () => {
  it('toGray uses Rec. 601 luma and drops alpha; dropAlpha keeps colour', () => {
    const rgba = createImage(2, 1, 4, new Float32Array([100, 200, 50, 255, 0, 0, 25, 128]));
    expect(rgba.meta.hasAlpha).toBe(true);
    expect(rgba.meta.range).toEqual({ min: 0, max: 200 });
    const g = toGray(rgba);
    expect(g.channels).toBe(1);
    expect(g.data[0]).toBeCloseTo(0.299 * 100 + 0.587 * 200 + 0.114 * 50, 4);
    expect(g.data[1]).toBeCloseTo(0.114 * 25, 4);
    const rgb = dropAlpha(rgba);
    expect(Array.from(rgb.data)).toEqual([100, 200, 50, 0, 0, 25]);
  });
});

describe('photos and rasters', () => {
  it('round-trips a 16-bit grey PNG exactly, and keeps 16 bits when reading', async () => {
    const values = Float32Array.from({ length: 37 * 23 }, (_, i) => (i * 977) % 65536);
    const file = tmp('grey16.png');
    await writeImage(createImage(37, 23, 1, values), file, { bitDepth: 16 });
    const meta = await sharp(file).metadata();
    expect([meta.depth, meta.channels]).toEqual(['ushort', 1]);
    const back = await readImage(file);
    expect([back.width, back.height, back.channels, back.meta.dtype, back.meta.bitDepth, back.meta.format]).toEqual([37, 23, 1, 'uint16', 16, 'png']);
    expect(maxAbsDiff(back.data, values)).toBe(0);
  });

  it('round-trips 16-bit RGBA and 8-bit grey+alpha PNGs with alpha as a channel', async () => {
    const rgba = Float32Array.from({ length: 5 * 4 * 4 }, (_, i) => (i * 4099) % 65536);
    await writeImage(createImage(5, 4, 4, rgba), tmp('rgba16.png'), { bitDepth: 16 });
    const a = await readImage(tmp('rgba16.png'));
    expect([a.channels, a.meta.hasAlpha, a.meta.dtype]).toEqual([4, true, 'uint16']);
    expect(maxAbsDiff(a.data, rgba)).toBe(0);
    const ga = Float32Array.from({ length: 5 * 4 * 2 }, (_, i) => (i * 31) % 256);
    await writeImage(createImage(5, 4, 2, ga), tmp('ga8.png'), { bitDepth: 8 });
    const b = await readImage(tmp('ga8.png'));
    expect([b.channels, b.meta.hasAlpha, b.meta.dtype]).toEqual([2, true, 'uint8']);
    expect(maxAbsDiff(b.data, ga)).toBe(0);
    // A normalised image: colour [0, 1] -> 0..65535, alpha (0..255 in the 8-bit source) -> 0..65535.
    const windowed = applyWindow(b, { low: 0, high: 255 });
    await writeImage(windowed, tmp('ga16.png'), { bitDepth: 16 });
    const c = await readImage(tmp('ga16.png'));
    expect(maxAbsDiff(c.data, b.data.map((v) => v * 257))).toBe(0);
  });

  it('applies EXIF orientation', async () => {
    // 3 wide x 2 tall as stored, orientation 6 (rotate 90 degrees clockwise to display): displays 2 x 3.
    const stored = new Uint8Array([10, 20, 30, 40, 50, 60]);
    const jpeg = await sharp(stored, { raw: { width: 3, height: 2, channels: 1 } }).toColourspace('b-w').withMetadata({ orientation: 6 }).jpeg({ quality: 100 }).toBuffer();
    await fs.writeFile(tmp('rot6.jpg'), jpeg);
    const img = await readImage(tmp('rot6.jpg'));
    expect([img.width, img.height, img.meta.orientation]).toEqual([2, 3, 6]);
    // Rotated clockwise: the stored bottom-left pixel (40) is at the top left.
    expect(Math.abs(img.data[0]! - 40)).toBeLessThan(4);
  });

  it('reads multi-page TIFF pages as slices, float values exactly', async () => {
    const pages = [0, 1, 2].map((p) => createImage(4, 3, 1, Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - p * 1000.5)));
    const file = tmp('pages.tif');
    await writeImages(pages, file);
    const all = await readImages(file);
    expect(all.map((i) => [i.meta.sliceIndex, i.meta.sliceCount, i.meta.dtype])).toEqual([
      [0, 3, 'float32'],
      [1, 3, 'float32'],
      [2, 3, 'float32'],
    ]);
    all.forEach((img, p) => expect(maxAbsDiff(img.data, pages[p]!.data)).toBe(0));
    expect((await readImages(file, { slice: 2 }))[0]!.data[0]).toBe(-2001);
    expect((await readImage(file)).meta.sliceIndex).toBe(1);
  });

  it('writes 16-bit TIFF and maps a normalised image to the full range', async () => {
    const img = createImage(3, 1, 1, new Float32Array([0, 0.5, 1]));
    const windowed = applyWindow(img, { low: 0, high: 1 });
    await writeImage(windowed, tmp('u16.tif'), { bitDepth: 16 });
    const back = await readImage(tmp('u16.tif'));
    expect(back.meta.dtype).toBe('uint16');
    expect(Array.from(back.data)).toEqual([0, 32768, 65535]);
  });
});

describe('NIfTI', () => {
  // RAS-stored volume: i -> +x (right), j -> +y (anterior), k -> +z (superior).
  const nx = 4;
  const ny = 3;
  const nz = 5;
  const ras = [
    [2, 0, 0, -3],
    [0, 3, 0, -4],
    [0, 0, 4, -5],
  ];

  it('shows axial, coronal and sagittal slices the way radiological viewers do', async () => {
    const file = tmp('ras.nii');
    await fs.writeFile(file, makeNifti({ dims: [nx, ny, nz], datatype: 4, voxel: (i, j, k) => code(i, j, k), sform: ras }));
    const axial = await readImages(file);
    expect(axial).toHaveLength(nz);
    const z2 = axial[2]!;
    expect([z2.width, z2.height]).toEqual([nx, ny]);
    // Patient's right (high x = high i) on the left; anterior (high j) at the top.
    expect(z2.data[0]).toBe(code(nx - 1, ny - 1, 2));
    expect(z2.data[1]).toBe(code(nx - 2, ny - 1, 2));
    expect(z2.data[nx]).toBe(code(nx - 1, ny - 2, 2));
    const coronal = await readImages(file, { axis: 'y', slice: 1 });
    expect([coronal[0]!.width, coronal[0]!.height]).toEqual([nx, nz]);
    expect(coronal[0]!.data[0]).toBe(code(nx - 1, 1, nz - 1)); // right on the left, superior at the top
    const sagittal = await readImages(file, { axis: 'x', slice: 3 });
    expect([sagittal[0]!.width, sagittal[0]!.height]).toEqual([ny, nz]);
    expect(sagittal[0]!.data[0]).toBe(code(3, ny - 1, nz - 1)); // anterior on the left, superior at the top
    expect(sagittal[0]!.data[1]).toBe(code(3, ny - 2, nz - 1));
    // The slice geometry maps (column, row) back to the voxel's world position.
    const a = z2.meta.geometry!.affine;
    const world = (c: number, r: number) => [0, 1, 2].map((x) => a[x]![0]! * c + a[x]![1]! * r + a[x]![3]!);
    expect(world(0, 0)).toEqual([2 * (nx - 1) - 3, 3 * (ny - 1) - 4, 4 * 2 - 5]);
  });

  it('gives the same display for a differently stored (LPI, permuted) copy of the volume', async () => {
    // Voxel axes: i -> -y (posterior), j -> -x (left), k -> -z (inferior).
    const lpi = [
      [0, -2, 0, 2 * (nx - 1) - 3],
      [-3, 0, 0, 3 * (ny - 1) - 4],
      [0, 0, -4, 4 * (nz - 1) - 5],
    ];
    const file = tmp('lpi.nii');
    await fs.writeFile(file, makeNifti({ dims: [ny, nx, nz], datatype: 4, voxel: (i, j, k) => code(nx - 1 - j, ny - 1 - i, nz - 1 - k), sform: lpi }));
    const reference = await readImages(tmp('ras.nii'));
    const permuted = await readImages(file);
    expect(permuted).toHaveLength(nz);
    permuted.forEach((img, s) => {
      expect(Array.from(img.data)).toEqual(Array.from(reference[s]!.data));
      expectAffineClose(img.meta.geometry?.affine, reference[s]!.meta.geometry?.affine);
    });
  });

  it('reads big-endian NIfTI-1 with scl_slope/scl_inter, and NIfTI-2', async () => {
    const be = tmp('be.nii');
    await fs.writeFile(be, makeNifti({ dims: [nx, ny, nz], datatype: 4, littleEndian: false, voxel: (i, j, k) => code(i, j, k), sform: ras, sclSlope: 0.5, sclInter: -7 }));
    const img = await readImage(be, { slice: 0 });
    expect(img.meta.nifti?.littleEndian).toBe(false);
    expect(img.data[0]).toBe(code(nx - 1, ny - 1, 0) * 0.5 - 7);
    const v2 = tmp('v2.nii');
    await fs.writeFile(v2, makeNifti({ dims: [nx, ny, nz], datatype: 16, version: 2, voxel: (i, j, k) => code(i, j, k) + 0.25, sform: ras }));
    const two = await readImages(v2);
    expect(two[0]!.meta.nifti?.version).toBe(2);
    expect(two.map((i) => i.data[0])).toEqual([0, 1, 2, 3, 4].map((k) => code(nx - 1, ny - 1, k) + 0.25));
  });

  it('shows a volume without a transform as stored, and selects volumes of 4-D files', async () => {
    const file = tmp('4d.nii.gz');
    await fs.writeFile(file, gzipSync(makeNifti({ dims: [nx, ny, nz, 2], datatype: 4, voxel: code })));
    const img = await readImage(file, { slice: 1, volume: 1 });
    expect(img.meta.geometry).toBeUndefined();
    expect(Array.from(img.data.slice(0, 2))).toEqual([code(0, 0, 1, 1), code(1, 0, 1, 1)]);
    await expectInputError(readImage(file, { volume: 2 }), file, /volume 2 is out of range.*2 volumes/);
    await expect(readImage(file, { axis: 'w' as 'x' })).rejects.toBeInstanceOf(UsageError);
  });

  it('writes a qform that alone reproduces an oblique geometry (both handednesses)', async () => {
    const c = Math.cos(Math.PI / 6);
    const sn = Math.sin(Math.PI / 6);
    for (const [name, flip] of [
      ['oblique-right.nii', 1],
      ['oblique-left.nii', -1],
    ] as const) {
      const img = createImage(3, 2, 1, new Float32Array([1, 2, 3, 4, 5, 6]));
      // Columns and rows rotated 30 degrees about z; the slice axis is +z or -z (a mirrored, left-handed grid).
      img.meta.geometry = {
        affine: [
          [0.7 * c, -0.9 * sn, 0, 10],
          [0.7 * sn, 0.9 * c, 0, -20],
          [0, 0, 2.5 * flip, 30],
          [0, 0, 0, 1],
        ],
      };
      const file = tmp(name);
      await writeImage(img, file);
      const bytes = await fs.readFile(file);
      expect(bytes.readInt16LE(252)).toBeGreaterThan(0); // qform_code
      bytes.writeInt16LE(0, 254); // sform_code 0: only the qform remains
      expect(bytes.readFloatLE(76)).toBe(flip); // pixdim[0] = qfac
      await fs.writeFile(file, bytes);
      const back = await readImage(file);
      expect([back.width * back.height, [...back.data].sort()]).toEqual([6, [1, 2, 3, 4, 5, 6]]);
      // The reader lays the slice out in display order: each value must still sit at its world position.
      const world = (g: number[][], col: number, row: number) => [0, 1, 2].map((i) => g[i]![0]! * col + g[i]![1]! * row + g[i]![3]!);
      for (let p = 0; p < 6; p++) {
        const v = back.data[p]!;
        const here = world(back.meta.geometry!.affine, p % back.width, Math.floor(p / back.width));
        const there = world(img.meta.geometry.affine, (v - 1) % 3, Math.floor((v - 1) / 3));
        here.forEach((x, i) => expect(Math.abs(x - there[i]!)).toBeLessThan(1e-4));
      }
    }
  });

  it('round-trips a slice and a whole volume (.nii and .nii.gz) keeping values and geometry', async () => {
    const src = await readImages(tmp('be.nii'));
    const slice = src[3]!;
    for (const name of ['slice.nii', 'slice.nii.gz']) {
      await writeImage(slice, tmp(name));
      const back = await readImage(tmp(name));
      expect([back.width, back.height]).toEqual([slice.width, slice.height]);
      expect(maxAbsDiff(back.data, slice.data)).toBe(0);
      expectAffineClose(back.meta.geometry?.affine, slice.meta.geometry?.affine);
    }
    // The source's datatype (int16 with its scl_slope / scl_inter), not float32.
    expect(slice.meta.nifti?.datatypeCode).toBe(4);
    expect(gunzipSync(await fs.readFile(tmp('slice.nii.gz'))).length).toBe(352 + slice.width * slice.height * 2);
    await writeImages(src, tmp('volume.nii'));
    const vol = await readImages(tmp('volume.nii'));
    expect(vol).toHaveLength(src.length);
    vol.forEach((img, s) => {
      expect(maxAbsDiff(img.data, src[s]!.data)).toBe(0);
      expectAffineClose(img.meta.geometry?.affine, src[s]!.meta.geometry?.affine);
    });
    // 16-bit output keeps the source's scl_slope / scl_inter grid: exact values.
    await writeImage(slice, tmp('slice16.nii'), { bitDepth: 16 });
    const s16 = await readImage(tmp('slice16.nii'));
    expect([4, 512]).toContain(s16.meta.nifti?.datatypeCode);
    expect([s16.meta.nifti?.sclSlope, s16.meta.nifti?.sclInter]).toEqual([0.5, -7]);
    expect(maxAbsDiff(s16.data, slice.data)).toBe(0);
  });
});

describe('DICOM writing', () => {
  type Dataset = Record<string, unknown>;
  const dcmjs = require('dcmjs') as {
    data: {
      DicomDict: new (meta: Dataset) => { dict: Dataset; write(): ArrayBuffer };
      DicomMetaDictionary: { denaturalizeDataset(d: Dataset): Dataset };
    };
  };

  async function sourceDicom(name: string, instance: number, z: number, series = '1.2.826.0.1.3680043.77.2'): Promise<string> {
    const pixels = Int16Array.from({ length: 6 * 5 }, (_, i) => i * 37 - 400 + instance);
    const ds: Dataset = {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
      SOPInstanceUID: `1.2.826.0.1.3680043.77.3.${instance}.${z}`,
      StudyInstanceUID: '1.2.826.0.1.3680043.77.1',
      SeriesInstanceUID: series,
      SeriesNumber: 7,
      InstanceNumber: instance,
      Modality: 'MR',
      SpecificCharacterSet: 'ISO_IR 192',
      PatientName: 'Müller^Jürgen',
      PatientID: 'P-42',
      StudyDescription: 'brain',
      ImageType: ['ORIGINAL', 'PRIMARY', 'M'],
      ImagePositionPatient: ['-12.5', '30', String(z)],
      ImageOrientationPatient: ['0.8', '0.6', '0', '0', '0', '-1'],
      PixelSpacing: ['0.7', '0.9'],
      SliceThickness: '2.5',
      Rows: 5,
      Columns: 6,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      RescaleSlope: '0.25',
      RescaleIntercept: '100',
      '00291010': new Uint8Array([1, 2, 3, 4]).buffer, // a private element
      PixelData: [pixels.buffer],
      _vrMap: { PixelData: 'OW', '00291010': 'OB' },
    };
    const meta: Dataset = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: ds['SOPClassUID'],
      MediaStorageSOPInstanceUID: ds['SOPInstanceUID'],
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      ImplementationClassUID: '1.2.826.0.1.3680043.77.9',
      _vrMap: { FileMetaInformationVersion: 'OB' },
    };
    const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
    const file = tmp(name);
    await fs.writeFile(file, new Uint8Array(dict.write()));
    return file;
  }

  it('writes a derived object: same pixels, geometry, patient and study; new series and instance; DERIVED', async () => {
    const file = await sourceDicom('src1.dcm', 1, 10);
    const src = await readImage(file);
    expect(src.data[0]).toBe((0 - 400 + 1) * 0.25 + 100);
    await writeImage(src, tmp('derived.dcm'), { description: 'DeepDream uconv64 x20' });
    const out = await readImage(tmp('derived.dcm'));
    expect(maxAbsDiff(out.data, src.data)).toBe(0);
    expectAffineClose(out.meta.geometry?.affine, src.meta.geometry?.affine, 1e-9);
    const ds = out.meta.dicom!.dataset;
    const sds = src.meta.dicom!.dataset;
    expect(out.meta.dicom?.transferSyntaxUID).toBe('1.2.840.10008.1.2.1');
    expect(ds['StudyInstanceUID']).toBe(sds['StudyInstanceUID']);
    expect(JSON.stringify(ds['PatientName'])).toBe(JSON.stringify(sds['PatientName']));
    expect(JSON.stringify(ds['PatientName'])).toContain('Müller');
    expect(ds['PatientID']).toBe('P-42');
    expect(ds['SeriesInstanceUID']).not.toBe(sds['SeriesInstanceUID']);
    expect(ds['SOPInstanceUID']).not.toBe(sds['SOPInstanceUID']);
    for (const uid of [ds['SeriesInstanceUID'], ds['SOPInstanceUID']] as string[]) {
      expect(uid).toMatch(/^2\.25\.\d{1,39}$/);
      expect(uid.length).toBeLessThanOrEqual(64);
    }
    expect((ds['ImageType'] as string[]).slice(0, 2)).toEqual(['DERIVED', 'SECONDARY']);
    expect(ds['SeriesDescription']).toBe('DeepDream uconv64 x20');
    expect(ds['BitsAllocated']).toBe(16);
    expect(ds['00291010']).toBeUndefined();
    expect((ds['SourceImageSequence'] as Dataset[])[0]!['ReferencedSOPInstanceUID']).toBe(sds['SOPInstanceUID']);
    // Slices of one source series share one derived series.
    const src2 = await readImage(await sourceDicom('src2.dcm', 2, 12.5));
    await writeImage(src2, tmp('derived2.dcm'), { description: 'DeepDream uconv64 x20' });
    const out2 = await readImage(tmp('derived2.dcm'));
    expect(out2.meta.dicom!.dataset['SeriesInstanceUID']).toBe(ds['SeriesInstanceUID']);
    await writeImage(src2, tmp('derived3.dcm'), { seriesInstanceUID: '1.2.3.4' });
    expect((await readImage(tmp('derived3.dcm'))).meta.dicom!.dataset['SeriesInstanceUID']).toBe('1.2.3.4');
  });

  it('stores float results as 16 bits with a rescale that maps back to source units', async () => {
    const src = await readImage(tmp('src1.dcm'));
    const { image: normalised, window } = percentileWindow(src);
    const dreamt = { ...normalised, data: normalised.data.map((v, i) => Math.min(1, v * 0.9 + 0.05 * Math.sin(i))) };
    await writeImage(dreamt, tmp('dream.dcm'));
    const back = await readImage(tmp('dream.dcm'));
    const expected = dreamt.data.map((v) => window.low + v * (window.high - window.low));
    const slope = back.meta.dicom!.rescaleSlope;
    expect(slope).toBeLessThan((window.high - window.low) / 1000);
    expect(maxAbsDiff(back.data, expected)).toBeLessThanOrEqual(slope / 2 + 1e-3);
  });

  it('writes a NIfTI slice as DICOM and back with the same position', async () => {
    const file = tmp('ras-for-dicom.nii');
    await fs.writeFile(
      file,
      makeNifti({
        dims: [4, 3, 5],
        datatype: 16,
        voxel: (i, j, k) => code(i, j, k) / 4,
        sform: [
          [2, 0, 0, -3],
          [0, 3, 0, -4],
          [0, 0, 4, -5],
        ],
      }),
    );
    const slice = await readImage(file, { slice: 2 });
    await writeImage(slice, tmp('from-nifti.dcm'));
    const dcm = await readImage(tmp('from-nifti.dcm'));
    expect(maxAbsDiff(dcm.data, slice.data)).toBeLessThan(1e-3);
    expectAffineClose(dcm.meta.geometry?.affine, slice.meta.geometry?.affine, 1e-6);
    expect(dcm.meta.dicom!.dataset['SOPClassUID']).toBe('1.2.840.10008.5.1.4.1.1.7');
    await writeImage(dcm, tmp('from-dicom.nii'));
    expectAffineClose((await readImage(tmp('from-dicom.nii'))).meta.geometry?.affine, slice.meta.geometry?.affine);
  });

  it('reads a folder as one series sorted along the slice normal, else by InstanceNumber', async () => {
    const folder = tmp('series');
    await fs.mkdir(folder);
    // File names and instance numbers deliberately disagree with the positions.
    await sourceDicom('series/b.dcm', 1, 20, '1.2.826.0.1.3680043.77.50');
    await sourceDicom('series/a.dcm', 2, 5, '1.2.826.0.1.3680043.77.50');
    await sourceDicom('series/c.dcm', 3, 12.5, '1.2.826.0.1.3680043.77.50');
    await fs.writeFile(path.join(folder, 'notes.txt'), 'not DICOM');
    const series = await readDicomSeries(folder);
    // The normal is row x column = (0.8, 0.6, 0) x (0, 0, -1) = (-0.6, 0.8, 0) in LPS: z does not move along it,
    // so all three share a position and InstanceNumber decides.
    expect(series.map((s) => s.meta.dicom!.dataset['InstanceNumber'])).toEqual([1, 2, 3]);
    const axial = tmp('axial');
    await fs.mkdir(axial);
    await fs.mkdir(tmp('axial-src'));
    for (const [name, instance, z] of [
      ['x1.dcm', 3, 20],
      ['x2.dcm', 1, 5],
      ['x3.dcm', 2, 12.5],
    ] as const) {
      const img = await readImage(await sourceDicom(`axial-src/${name}`, instance, z, '1.2.826.0.1.3680043.77.60'));
      // Written again with an axial orientation, so the position along the normal (z) differs.
      img.meta.geometry = {
        affine: [
          [-0.9, 0, 0, 12.5],
          [0, -0.7, 0, -30],
          [0, 0, 2.5, z],
          [0, 0, 0, 1],
        ],
      };
      await writeImage(img, path.join(axial, name), { seriesInstanceUID: '2.25.60' });
    }
    const sorted = await readDicomSeries(axial, { seriesInstanceUID: '2.25.60' });
    expect(sorted.map((s) => s.meta.geometry!.affine[2]![3])).toEqual([5, 12.5, 20]);
    await expectInputError(readDicomSeries(tmp('series-none')), tmp('series-none'), /no such file/);
  });

  it('refuses a folder with several series unless one is chosen', async () => {
    const folder = tmp('two-series');
    await fs.mkdir(folder);
    await sourceDicom('two-series/a.dcm', 1, 0, '1.2.826.0.1.3680043.77.70');
    await sourceDicom('two-series/b.dcm', 1, 0, '1.2.826.0.1.3680043.77.71');
    await expectInputError(readDicomSeries(folder), folder, /holds 2 series.*1\.2\.826\.0\.1\.3680043\.77\.70 \(1 image\)/);
    expect(await readDicomSeries(folder, { seriesInstanceUID: '1.2.826.0.1.3680043.77.71' })).toHaveLength(1);
  });
});

describe('content sniffing', () => {
  it('recognises every format without a file extension', async () => {
    const grey = createImage(8, 6, 1, Float32Array.from({ length: 48 }, (_, i) => i * 5));
    const made: [string, string][] = [];
    const save = async (name: string, bytes: Uint8Array | Buffer, format: string) => {
      await fs.writeFile(tmp(name), bytes);
      made.push([name, format]);
    };
    await writeImage(grey, tmp('s.png'));
    await save('png-noext', await fs.readFile(tmp('s.png')), 'png');
    await save('jpeg-noext', await sharp(tmp('s.png')).jpeg().toBuffer(), 'jpeg');
    await save('webp-noext', await sharp(tmp('s.png')).webp({ lossless: true }).toBuffer(), 'webp');
    await writeImage(grey, tmp('s.tif'));
    await save('tiff-noext', await fs.readFile(tmp('s.tif')), 'tiff');
    await writeImage(grey, tmp('s.dcm'));
    await save('dicom-noext', await fs.readFile(tmp('s.dcm')), 'dicom');
    const nii = makeNifti({ dims: [8, 6, 1], datatype: 2, voxel: (i, j) => i + j * 8 });
    await save('nifti-noext', nii, 'nifti');
    await save('niftigz-noext', gzipSync(nii), 'nifti');
    await save('nifti2-noext', makeNifti({ dims: [8, 6, 1], datatype: 2, version: 2, voxel: (i, j) => i + j * 8 }), 'nifti');
    await save('nifti-be-noext', makeNifti({ dims: [8, 6, 1], datatype: 4, littleEndian: false, voxel: (i, j) => i + j * 8 }), 'nifti');
    for (const [name, format] of made) {
      const img = await readImage(tmp(name));
      expect(img.meta.format, name).toBe(format);
      expect([img.width, img.height], name).toEqual([8, 6]);
    }
    // A misleading extension does not matter either: the content decides.
    await fs.copyFile(tmp('s.png'), tmp('really-a-png.dcm'));
    expect((await readImage(tmp('really-a-png.dcm'))).meta.format).toBe('png');
  });
});

describe('bad input', () => {
  it('names the file and the reason in one line', async () => {
    const cases: [string, Uint8Array | string | null, RegExp][] = [
      ['empty.png', new Uint8Array(0), /^empty file \(0 bytes\)$/],
      ['random.dcm', Uint8Array.from({ length: 600 }, (_, i) => (i * 7919) % 251), /not a DICOM file: no 'DICM' marker at byte 128/],
      ['tiny.dcm', new Uint8Array([1, 2, 3]), /not a DICOM file: only 3 bytes/],
      ['random.nii', Uint8Array.from({ length: 1024 }, (_, i) => (i * 31) % 253), /not a NIfTI file/],
      ['text.png', 'hello, I am not a picture', /not a PNG file/],
      ['mystery', Uint8Array.from({ length: 64 }, (_, i) => i), /unrecognised file format/],
      ['bad.jpg', new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1]), /cannot decode JPEG/],
      ['header.hdr', analyzeHeader(), /hdr\+\.img pairs are not supported/],
    ];
    for (const [name, content, reason] of cases) {
      await fs.writeFile(tmp(name), content ?? '');
      await expectInputError(readImage(tmp(name)), tmp(name), reason);
    }
    await expectInputError(readImage(tmp('does-not-exist.png')), tmp('does-not-exist.png'), /^no such file$/);
    await fs.mkdir(tmp('a-folder.dcm'));
    await expectInputError(readImages(tmp('a-folder.dcm')), tmp('a-folder.dcm'), /^is a directory, not a file$/);
  });

  it('reports truncated NIfTI, truncated gzip and a gzip that is not NIfTI', async () => {
    const nii = makeNifti({ dims: [10, 10, 10], datatype: 4, voxel: code, sform: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]] });
    await fs.writeFile(tmp('cut.nii'), nii.subarray(0, 1000));
    await expectInputError(readImage(tmp('cut.nii')), tmp('cut.nii'), /truncated: 10x10x10x1 int16 voxels need 2352 bytes, only 1000 are present/);
    const gz = gzipSync(nii);
    await fs.writeFile(tmp('cut.nii.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    await expectInputError(readImage(tmp('cut.nii.gz')), tmp('cut.nii.gz'), /corrupt gzip data: unexpected end of file/);
    await fs.writeFile(tmp('text.nii.gz'), gzipSync(Buffer.from('just some text')));
    await expectInputError(readImage(tmp('text.nii.gz')), tmp('text.nii.gz'), /gzip file does not hold a NIfTI volume/);
  });

  it('rejects bad options as usage errors', async () => {
    await expect(readImages(tmp('s.png'), { slice: -1 })).rejects.toBeInstanceOf(UsageError);
    await expect(writeImage(createImage(2, 2), tmp('x.bmp'))).rejects.toThrow(/Expected a file name ending/);
    await expect(writeImage(createImage(2, 2), tmp('x.png'), { bitDepth: 32 })).rejects.toThrow(/Expected one of 8, 16 for png for bitDepth/);
  });
});

describe('percentile windows', () => {
  it('normalises between the 0.5th and 99.5th percentiles and maps back', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1..1000, any order
    const img = createImage(40, 25, 1, values);
    const { image, window } = percentileWindow(img);
    // numpy.percentile(range(1, 1001), [0.5, 99.5]) == [5.995, 995.005]
    expect(window.low).toBeCloseTo(5.995, 9);
    expect(window.high).toBeCloseTo(995.005, 9);
    expect(image.meta.window).toEqual(window);
    expect(image.meta.range).toEqual({ min: 0, max: 1 });
    const at500 = values.indexOf(500);
    expect(image.data[at500]).toBeCloseTo((500 - 5.995) / (995.005 - 5.995), 6);
    const back = unwindow(image);
    expect(back.meta.window).toBeUndefined();
    expect(back.data[at500]).toBeCloseTo(500, 3);
    expect(back.data[values.indexOf(1)]).toBeCloseTo(5.995, 3); // clipped to the window
    const custom = percentileWindow(img, { low: 10, high: 90 }).window;
    expect([custom.low, custom.high]).toEqual([100.9, 900.1].map((v) => expect.closeTo(v, 9)) as unknown as number[]);
    expect(() => percentileWindow(img, { low: 60, high: 40 })).toThrow(UsageError);
  });

  it('leaves alpha alone and ignores it in the percentiles', () => {
    const img = createImage(2, 1, 2, new Float32Array([10, 255, 20, 0]));
    const { image, window } = percentileWindow(img, { low: 0, high: 100 });
    expect(window).toMatchObject({ low: 10, high: 20 });
    expect(Array.from(image.data)).toEqual([0, 255, 1, 0]);
  });
});

describe('walking folders', () => {
  it('lists files in natural order, skips hidden ones, filters by pattern and survives a symlink loop', async () => {
    const root = tmp('walk');
    const files = ['img10.png', 'img2.png', 'img1.png', 'B.dcm', 'a.DCM', 'notes.txt', '.hidden.png', 'sub/z.png', 'sub/deeper/y.dcm', '.git/config.png', 'sub2/x.png'];
    for (const f of files) {
      await fs.mkdir(path.dirname(path.join(root, f)), { recursive: true });
      await fs.writeFile(path.join(root, f), 'x');
    }
    await fs.symlink('..', path.join(root, 'sub', 'loop')); // sub/loop -> walk/
    await fs.symlink(path.join(root, 'img1.png'), path.join(root, 'sub2', 'link-to-img1.png')); // same file twice
    await fs.symlink(path.join(root, 'gone.png'), path.join(root, 'broken.png')); // dangling
    const rel = (list: string[]) => list.map((f) => path.relative(root, f).split(path.sep).join('/'));
    expect(rel(await walkInputs(root))).toEqual(['a.DCM', 'B.dcm', 'img1.png', 'img2.png', 'img10.png', 'notes.txt', 'sub/deeper/y.dcm', 'sub/z.png', 'sub2/x.png']);
    expect(rel(await walkInputs(root, { include: '*.png' }))).toEqual(['img1.png', 'img2.png', 'img10.png', 'sub/z.png', 'sub2/x.png']);
    expect(rel(await walkInputs(root, { include: ['*.dcm'], recursive: false }))).toEqual(['a.DCM', 'B.dcm']);
    expect(rel(await walkInputs(root, { include: 'sub/**/*.{dcm,png}' }))).toEqual(['sub/deeper/y.dcm', 'sub/z.png']);
    expect(rel(await walkInputs(root, { include: '*.png', hidden: true }))).toContain('.hidden.png');
    expect(await walkInputs(path.join(root, 'img2.png'))).toEqual([path.join(root, 'img2.png')]);
    await expectInputError(walkInputs(path.join(root, 'nope')), path.join(root, 'nope'), /no such file/);
  });
});

// Keep the type import used even when a describe block is skipped.
export type { RawImage };
