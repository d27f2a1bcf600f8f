/**
 * src/io on the real files in ../shared/realdata (see its PROVENANCE.tsv). The repository does not copy them:
 * each test is skipped, with a note, when its file is absent.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { readImage, readImages, writeImage, writeImages, type RawImage } from '../src/io/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REALDATA = path.resolve(REPO, '../shared/realdata');
const real = (rel: string) => path.join(REALDATA, rel);
const has = (rel: string) => existsSync(real(rel));

const FILES = {
  mrSmall: 'dicom/pydicom_MR_small.dcm',
  mrRle: 'dicom/pydicom_MR_small_RLE.dcm',
  mrJ2k: 'dicom/pydicom_MR_small_jp2klossless.dcm',
  mrTruncated: 'dicom/pydicom_MR_truncated.dcm',
  emri: 'dicom/pydicomdata_emri_small.dcm',
  mr2: 'dicom/pydicomdata_MR2_UNCR.dcm',
  anatomical: 'nifti/nibabel_anatomical.nii',
  avg152: 'nifti/niftireaderjs_avg152T1_LR_nifti.nii.gz',
  notNifti: 'nifti/niftireaderjs_not-nifti.nii',
  astronaut: 'photos/skimage_astronaut.png',
  camera: 'photos/skimage_camera.png',
  landscape6: 'photos/recurser_Landscape_6.jpg',
  truncatedJpeg: 'photos/skimage_truncated.jpg',
} as const;

const missing = Object.values(FILES).filter((f) => !has(f));
if (missing.length > 0) {
  console.log(`io-realdata: ${missing.length} real file(s) not found under ${REALDATA}; their tests are skipped: ${missing.join(', ')}`);
}

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'io-real-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function range(images: RawImage[]): { min: number; max: number } {
  return { min: Math.min(...images.map((i) => i.meta.range.min)), max: Math.max(...images.map((i) => i.meta.range.max)) };
}

async function inputError(promise: Promise<unknown>): Promise<InputError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).not.toContain('\n');
  return err as InputError;
}

describe('real DICOM', () => {
  it.skipIf(!has(FILES.mrSmall))('MR_small: 64x64 signed 16-bit, min 127, max 2145, with its geometry', async () => {
    const img = await readImage(real(FILES.mrSmall));
    expect([img.width, img.height, img.channels, img.meta.dtype, img.meta.bitDepth]).toEqual([64, 64, 1, 'int16', 16]);
    expect(img.meta.range).toEqual({ min: 127, max: 2145 });
    // ImagePositionPatient (-83.9063, -91.2, 6.6406) LPS, axial, 0.3125 mm pixels.
    expect(img.meta.geometry?.affine[0]).toEqual([-0.3125, 0, 0, 83.9063]);
    expect(img.meta.dicom?.transferSyntaxUID).toBe('1.2.840.10008.1.2.1');
  });

  it.skipIf(!has(FILES.mrSmall) || !has(FILES.mrRle) || !has(FILES.mrJ2k))('MR_small as RLE and as JPEG 2000 gives identical pixels', async () => {
    const reference = await readImage(real(FILES.mrSmall));
    for (const file of [FILES.mrRle, FILES.mrJ2k]) {
      const img = await readImage(real(file));
      expect([img.width, img.height], file).toEqual([64, 64]);
      expect(Array.from(img.data), file).toEqual(Array.from(reference.data));
    }
  });

  it.skipIf(!has(FILES.mrTruncated))('MR_truncated: an InputError naming the file and the missing bytes', async () => {
    const file = real(FILES.mrTruncated);
    const err = await inputError(readImage(file));
    expect(err.message).toBe(`${file}: the file is truncated: Pixel Data declares 8192 bytes but only 8130 are present`);
  });

  it.skipIf(!has(FILES.emri))('emri_small: 10 frames of 64x64, 12 of 16 bits, max 467', async () => {
    const frames = await readImages(real(FILES.emri));
    expect(frames).toHaveLength(10);
    for (const f of frames) expect([f.width, f.height, f.meta.dtype, f.meta.bitDepth, f.meta.sliceCount]).toEqual([64, 64, 'uint16', 12, 10]);
    expect(range(frames)).toEqual({ min: 0, max: 467 });
    const fourth = await readImages(real(FILES.emri), { slice: 3 });
    expect(Array.from(fourth[0]!.data)).toEqual(Array.from(frames[3]!.data));
  });

  it.skipIf(!has(FILES.mr2))('MR2_UNCR: 1024x1024 with RescaleSlope 3.774114 applied, and an exact DICOM round trip', async () => {
    const img = await readImage(real(FILES.mr2));
    expect([img.width, img.height, img.meta.bitDepth]).toEqual([1024, 1024, 12]);
    expect(img.meta.dicom?.rescaleSlope).toBe(3.774114);
    // Stored values 0..595 (pydicom); RescaleIntercept 0.000061.
    expect(img.meta.range.max).toBeCloseTo(595 * 3.774114 + 0.000061, 2);
    expect(img.meta.range.min).toBeCloseTo(0.000061, 6);
    const out = path.join(dir, 'mr2-derived.dcm');
    await writeImage(img, out, { description: 'round trip' });
    const back = await readImage(out);
    expect(back.meta.dicom?.rescaleSlope).toBe(3.774114);
    expect(back.data.every((v, i) => v === img.data[i])).toBe(true);
  });

  it.skipIf(!has(FILES.mrSmall))('is recognised by content without an extension', async () => {
    const copy = path.join(dir, 'MR_small-no-extension');
    await fs.copyFile(real(FILES.mrSmall), copy);
    const img = await readImage(copy);
    expect(img.meta.format).toBe('dicom');
    expect(img.meta.range).toEqual({ min: 127, max: 2145 });
  });
});

describe('real NIfTI', () => {
  it.skipIf(!has(FILES.anatomical))('anatomical.nii: 33x41x25 big-endian int16, sliced along each axis', async () => {
    const axial = await readImages(real(FILES.anatomical));
    expect(axial).toHaveLength(25);
    const first = axial[0]!;
    expect([first.width, first.height, first.meta.dtype]).toEqual([33, 41, 'int16']);
    expect(first.meta.nifti?.littleEndian).toBe(false);
    expect(first.meta.nifti?.dims.slice(0, 4)).toEqual([3, 33, 41, 25]);
    const { min, max } = range(axial);
    expect(min).toBe(-610); // nibabel: min -610, max 3.039e+04
    expect(Math.round(max / 10)).toBe(3039);
    const coronal = await readImages(real(FILES.anatomical), { axis: 'y' });
    expect([coronal.length, coronal[0]!.width, coronal[0]!.height]).toEqual([41, 33, 25]);
    const sagittal = await readImages(real(FILES.anatomical), { axis: 'x' });
    expect([sagittal.length, sagittal[0]!.width, sagittal[0]!.height]).toEqual([33, 41, 25]);
    // 2 mm voxels; the stored axes are LAS, so columns already run right-to-left and rows are flipped.
    expect(first.meta.geometry?.affine).toEqual([
      [-2, 0, 0, 32],
      [0, -2, 0, 40],
      [0, 0, 2, -16],
      [0, 0, 0, 1],
    ]);
  });

  it.skipIf(!has(FILES.anatomical))('anatomical.nii round-trips as a .nii.gz volume and as single slices', async () => {
    const axial = await readImages(real(FILES.anatomical));
    const out = path.join(dir, 'anatomical-copy.nii.gz');
    await writeImages(axial, out);
    const back = await readImages(out);
    expect(back).toHaveLength(25);
    back.forEach((b, s) => {
      expect(Array.from(b.data)).toEqual(Array.from(axial[s]!.data));
      expect(b.meta.geometry?.affine).toEqual(axial[s]!.meta.geometry?.affine);
    });
    const middle = await readImage(real(FILES.anatomical));
    expect(middle.meta.sliceIndex).toBe(12);
    await writeImage(middle, path.join(dir, 'anatomical-12.dcm'));
    const dcm = await readImage(path.join(dir, 'anatomical-12.dcm'));
    expect(Array.from(dcm.data)).toEqual(Array.from(middle.data));
    expect(dcm.meta.geometry?.affine).toEqual(middle.meta.geometry?.affine);
  });

  it.skipIf(!has(FILES.avg152))('avg152T1 (.nii.gz): 91x109x91 uint8, 0..255, right on the left', async () => {
    const axial = await readImages(real(FILES.avg152));
    expect(axial).toHaveLength(91);
    expect([axial[0]!.width, axial[0]!.height, axial[0]!.meta.dtype]).toEqual([91, 109, 'uint8']);
    expect(range(axial)).toEqual({ min: 0, max: 255 });
    const a = axial[45]!.meta.geometry!.affine;
    expect(a[0]![0]).toBeLessThan(0); // columns run towards the patient's left
    expect(a[1]![1]).toBeLessThan(0); // rows run towards posterior: anterior is up
    expect(axial[45]!.meta.nifti?.sformCode).toBe(4);
  });

  it.skipIf(!has(FILES.notNifti))('not-nifti.nii: an InputError saying it is not NIfTI', async () => {
    const file = real(FILES.notNifti);
    const err = await inputError(readImage(file));
    expect(err.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a NIfTI file`));
  });
});

describe('real photos', () => {
  it.skipIf(!has(FILES.landscape6))('Landscape_6.jpg displays 1800x1200 after its EXIF orientation 6', async () => {
    const img = await readImage(real(FILES.landscape6));
    expect([img.width, img.height, img.channels, img.meta.orientation]).toEqual([1800, 1200, 3, 6]);
  });

  it.skipIf(!has(FILES.astronaut) || !has(FILES.camera))('astronaut (RGB) and camera (grey) PNGs', async () => {
    const astronaut = await readImage(real(FILES.astronaut));
    expect([astronaut.width, astronaut.height, astronaut.channels, astronaut.meta.dtype]).toEqual([512, 512, 3, 'uint8']);
    const camera = await readImage(real(FILES.camera));
    expect([camera.width, camera.height, camera.channels]).toEqual([512, 512, 1]);
    expect(camera.meta.range.max).toBeLessThanOrEqual(255);
  });

  it.skipIf(!has(FILES.truncatedJpeg))('truncated.jpg: an InputError naming the file', async () => {
    const file = real(FILES.truncatedJpeg);
    const err = await inputError(readImage(file));
    expect(err.input).toBe(file);
    expect(err.reason).toMatch(/^cannot decode JPEG: .*premature end of JPEG/i);
  });
});
