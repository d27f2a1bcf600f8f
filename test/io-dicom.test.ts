/**
 * DICOM decoding on files this test makes itself (dcmjs writes them): byte orders, bit layouts, photometric
 * interpretations, multi-frame and enhanced objects, RLE / JPEG-LS / JPEG 2000 / JPEG pixel data, and the errors.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { readImage, readImages } from '../src/io/index.js';

const require = createRequire(import.meta.url);
type Dataset = Record<string, unknown>;
const dcmjs = require('dcmjs') as {
  data: {
    DicomDict: new (meta: Dataset) => { dict: Dataset; write(): ArrayBuffer };
    DicomMetaDictionary: { denaturalizeDataset(d: Dataset): Dataset };
  };
  log: { setLevel(level: string): void; getLogger(name: string): { setLevel(level: string): void } };
};
dcmjs.log.setLevel('silent');
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent'); // dcmjs warns about the implicit-VR pixel data VR

const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  explicitBE: '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  rle: '1.2.840.10008.1.2.5',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegLs: '1.2.840.10008.1.2.4.80',
  j2k: '1.2.840.10008.1.2.4.90',
  mpeg2: '1.2.840.10008.1.2.4.100',
};

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'io-dicom-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface MakeOptions {
  rows: number;
  columns: number;
  frames?: number;
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  signed?: boolean;
  samplesPerPixel?: number;
  photometric?: string;
  transferSyntax?: string;
  /** Native: one buffer; encapsulated: one per frame. */
  pixelData?: ArrayBuffer | ArrayBuffer[];
  extra?: Dataset;
}

/** A DICOM file written by dcmjs (a different code path from the project's writer). */
async function makeDicom(name: string, o: MakeOptions): Promise<string> {
  const ts = o.transferSyntax ?? TS.explicitLE;
  const encapsulated = ![TS.implicitLE, TS.explicitLE, TS.explicitBE, TS.deflated].includes(ts);
  const bitsAllocated = o.bitsAllocated ?? 16;
  const ds: Dataset = {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
    SOPInstanceUID: `1.2.826.0.1.3680043.99.${Math.floor(Math.random() * 1e9)}`,
    StudyInstanceUID: '1.2.826.0.1.3680043.99.1',
    SeriesInstanceUID: '1.2.826.0.1.3680043.99.2',
    Modality: 'MR',
    PatientName: 'Test^Pixels',
    PatientID: 'T1',
    Rows: o.rows,
    Columns: o.columns,
    SamplesPerPixel: o.samplesPerPixel ?? 1,
    PhotometricInterpretation: o.photometric ?? 'MONOCHROME2',
    BitsAllocated: bitsAllocated,
    BitsStored: o.bitsStored ?? bitsAllocated,
    HighBit: o.highBit ?? (o.bitsStored ?? bitsAllocated) - 1,
    PixelRepresentation: o.signed ? 1 : 0,
    ...(o.frames !== undefined ? { NumberOfFrames: o.frames } : {}),
    ...(o.samplesPerPixel === 3 ? { PlanarConfiguration: 0 } : {}),
    ...o.extra,
    _vrMap: { PixelData: encapsulated || bitsAllocated === 8 ? 'OB' : 'OW' },
  };
  if (o.pixelData !== undefined) ds['PixelData'] = Array.isArray(o.pixelData) ? o.pixelData : [o.pixelData];
  const meta: Dataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds['SOPClassUID'],
    MediaStorageSOPInstanceUID: ds['SOPInstanceUID'],
    TransferSyntaxUID: ts,
    ImplementationClassUID: '1.2.826.0.1.3680043.99.3',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  const file = path.join(dir, name);
  let bytes = Buffer.from(dict.write());
  if (ts === TS.deflated) {
    // dcmjs labels but does not deflate: deflate the dataset after the file meta information ourselves.
    const metaEnd = 144 + bytes.readUInt32LE(140);
    bytes = Buffer.concat([bytes.subarray(0, metaEnd), deflateRawSync(bytes.subarray(metaEnd))]);
  }
  await fs.writeFile(file, bytes);
  return file;
}

const u16 = (values: number[]) => new Uint16Array(values.map((v) => v & 0xffff)).buffer;
const bytesOf = (a: ArrayBufferView) => a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;

/** PackBits with replicate runs where bytes repeat and literal runs elsewhere. */
function packBits(src: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 2) {
      out.push(257 - run, src[i]!); // -(run-1) as a byte
      i += run;
      continue;
    }
    const start = i;
    while (i < src.length && i - start < 128 && !(i + 1 < src.length && src[i + 1] === src[i])) i++;
    if (i === start) i++;
    out.push(i - start - 1, ...src.subarray(start, i));
  }
  return out;
}

/** RLE Lossless frame (PS3.5 Annex G) of little-endian, pixel-interleaved samples. */
function rleEncode(native: Uint8Array, pixels: number, samples: number, bytesPerSample: number): ArrayBuffer {
  const segments: number[][] = [];
  for (let s = 0; s < samples; s++) {
    for (let b = bytesPerSample - 1; b >= 0; b--) {
      const plane = new Uint8Array(pixels);
      for (let p = 0; p < pixels; p++) plane[p] = native[(p * samples + s) * bytesPerSample + b]!;
      const seg = packBits(plane);
      if (seg.length % 2) seg.push(0x80); // pad to even with a no-op
      segments.push(seg);
    }
  }
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((seg, k) => {
    header.setUint32(4 + k * 4, offset, true);
    offset += seg.length;
  });
  const out = new Uint8Array(offset);
  out.set(new Uint8Array(header.buffer), 0);
  let at = 64;
  for (const seg of segments) {
    out.set(seg, at);
    at += seg.length;
  }
  return out.buffer;
}

async function expectInputError(promise: Promise<unknown>, file: string, reason: RegExp): Promise<InputError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.exitCode).toBe(1);
  expect(e.message.startsWith(`${file}: `)).toBe(true);
  expect(e.message).not.toContain('\n');
  expect(e.message).not.toMatch(/\s+at\s.+:\d+:\d+/); // no stack text
  expect(e.reason).toMatch(reason);
  return e;
}

describe('DICOM: byte orders and bit layouts', () => {
  const values = [-32768, -1000, -1, 0, 1, 2, 1000, 32767, 5, 6, 7, 8];

  it('reads Explicit VR Little Endian signed 16-bit with rescale', async () => {
    const file = await makeDicom('le.dcm', { rows: 3, columns: 4, signed: true, pixelData: u16(values), extra: { RescaleSlope: '0.5', RescaleIntercept: '-10' } });
    const img = await readImage(file);
    expect([img.width, img.height, img.channels]).toEqual([4, 3, 1]);
    expect(Array.from(img.data)).toEqual(values.map((v) => v * 0.5 - 10));
    expect(img.meta.dtype).toBe('int16');
    expect(img.meta.dicom?.rescaleSlope).toBe(0.5);
    expect(img.meta.format).toBe('dicom');
  });

  it('reads Implicit VR Little Endian', async () => {
    const file = await makeDicom('implicit.dcm', { rows: 3, columns: 4, signed: true, transferSyntax: TS.implicitLE, pixelData: u16(values) });
    expect(Array.from((await readImage(file)).data)).toEqual(values);
  });

  it('reads Deflated Explicit VR Little Endian', async () => {
    const file = await makeDicom('deflated.dcm', { rows: 3, columns: 4, signed: true, transferSyntax: TS.deflated, pixelData: u16(values) });
    const img = await readImage(file);
    expect(img.meta.dicom?.transferSyntaxUID).toBe(TS.deflated);
    expect(Array.from(img.data)).toEqual(values);
  });

  it('reads Explicit VR Big Endian (pixel words swapped)', async () => {
    const be = new DataView(new ArrayBuffer(values.length * 2));
    values.forEach((v, i) => be.setInt16(i * 2, v, false));
    const file = await makeDicom('be.dcm', { rows: 3, columns: 4, signed: true, transferSyntax: TS.explicitBE, pixelData: be.buffer });
    // The file really is big-endian: the first pixel word is stored high byte first.
    const bytes = await fs.readFile(file);
    expect(bytes.includes(Buffer.from([0x7f, 0xe0, 0x00, 0x10]))).toBe(true);
    const img = await readImage(file);
    expect(Array.from(img.data)).toEqual(values);
  });

  it('masks BitsStored and sign-extends when PixelRepresentation is 1', async () => {
    // 12 bits stored in 16, with garbage in the 4 unused high bits.
    const stored = [0x0fff, 0x07ff, 0x0800, 0x0000, 0x0001, 0x0abc];
    const raw = stored.map((v, i) => v | ((0xa000 * (i + 1)) & 0xf000));
    const signedFile = await makeDicom('bs12s.dcm', { rows: 2, columns: 3, bitsStored: 12, signed: true, pixelData: u16(raw) });
    expect(Array.from((await readImage(signedFile)).data)).toEqual([-1, 2047, -2048, 0, 1, 0x0abc - 4096]);
    const unsignedFile = await makeDicom('bs12u.dcm', { rows: 2, columns: 3, bitsStored: 12, pixelData: u16(raw) });
    expect(Array.from((await readImage(unsignedFile)).data)).toEqual(stored);
  });

  it('shifts down when HighBit is not BitsStored - 1', async () => {
    const stored = [1, 2, 3, 4095];
    const file = await makeDicom('highbit.dcm', { rows: 2, columns: 2, bitsStored: 12, highBit: 15, pixelData: u16(stored.map((v) => v << 4)) });
    expect(Array.from((await readImage(file)).data)).toEqual(stored);
  });

  it('inverts MONOCHROME1 within the stored range', async () => {
    const stored = new Uint8Array([0, 10, 200, 255]);
    const file = await makeDicom('mono1.dcm', { rows: 2, columns: 2, bitsAllocated: 8, photometric: 'MONOCHROME1', pixelData: bytesOf(stored) });
    const img = await readImage(file);
    expect(Array.from(img.data)).toEqual([255, 245, 55, 0]);
    expect(img.meta.dicom?.inverted).toBe(true);
    expect(img.meta.dtype).toBe('uint8');
  });

  it('reads 8-bit RGB, both planar configurations', async () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
    const interleaved = await makeDicom('rgb.dcm', { rows: 2, columns: 2, bitsAllocated: 8, samplesPerPixel: 3, photometric: 'RGB', pixelData: bytesOf(rgb) });
    const a = await readImage(interleaved);
    expect(a.channels).toBe(3);
    expect(Array.from(a.data)).toEqual(Array.from(rgb));
    const planes = new Uint8Array(12);
    for (let p = 0; p < 4; p++) for (let c = 0; c < 3; c++) planes[c * 4 + p] = rgb[p * 3 + c]!;
    const planar = await makeDicom('rgb-planar.dcm', {
      rows: 2,
      columns: 2,
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'RGB',
      pixelData: bytesOf(planes),
      extra: { PlanarConfiguration: 1 },
    });
    expect(Array.from((await readImage(planar)).data)).toEqual(Array.from(rgb));
  });
});

describe('DICOM: frames', () => {
  it('reads every frame of a multi-frame file, or one with the slice option', async () => {
    const frames = [0, 1, 2].map((f) => Array.from({ length: 6 }, (_, i) => f * 100 + i));
    const file = await makeDicom('multi.dcm', { rows: 2, columns: 3, frames: 3, pixelData: u16(frames.flat()) });
    const all = await readImages(file);
    expect(all).toHaveLength(3);
    all.forEach((img, f) => {
      expect(Array.from(img.data)).toEqual(frames[f]);
      expect(img.meta.sliceIndex).toBe(f);
      expect(img.meta.sliceCount).toBe(3);
    });
    const one = await readImages(file, { slice: 2 });
    expect(one).toHaveLength(1);
    expect(Array.from(one[0]!.data)).toEqual(frames[2]);
    expect((await readImage(file)).meta.sliceIndex).toBe(1); // the middle frame
    await expectInputError(readImages(file, { slice: 3 }), file, /frame 3 is out of range.*3 frames/);
  });

  it('takes per-frame position and rescale from enhanced functional groups', async () => {
    const perFrame = [0, 1].map((f) => ({
      PlanePositionSequence: [{ ImagePositionPatient: ['-10', '-20', String(5 + f * 3)] }],
      PixelValueTransformationSequence: [{ RescaleSlope: String(f + 1), RescaleIntercept: String(f * 10), RescaleType: 'US' }],
    }));
    const shared = [{ PlaneOrientationSequence: [{ ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'] }], PixelMeasuresSequence: [{ PixelSpacing: ['0.5', '0.25'], SliceThickness: '3' }] }];
    const file = await makeDicom('enhanced.dcm', {
      rows: 2,
      columns: 2,
      frames: 2,
      pixelData: u16([1, 2, 3, 4, 1, 2, 3, 4]),
      extra: { SOPClassUID: '1.2.840.10008.5.1.4.1.1.4.1', PerFrameFunctionalGroupsSequence: perFrame, SharedFunctionalGroupsSequence: shared },
    });
    const [a, b] = await readImages(file);
    expect(Array.from(a!.data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(b!.data)).toEqual([12, 14, 16, 18]);
    // LPS (-10, -20, 8) -> RAS (10, 20, 8); columns 0.25 mm along -x (RAS), rows 0.5 mm along -y.
    expect(b!.meta.geometry?.affine).toEqual([
      [-0.25, 0, 0, 10],
      [0, -0.5, 0, 20],
      [0, 0, 3, 8],
      [0, 0, 0, 1],
    ]);
  });
});

describe('DICOM: compressed transfer syntaxes', () => {
  it('decodes RLE Lossless (own decoder) to the same pixels, 16-bit signed, two frames', async () => {
    const w = 7;
    const h = 5;
    const frames = [0, 1].map((f) => Int16Array.from({ length: w * h }, (_, i) => (i % 3 === 0 ? -1234 : i * 97 * (f + 1) - 1500)));
    const encoded = frames.map((fr) => rleEncode(new Uint8Array(bytesOf(fr)), w * h, 1, 2));
    const file = await makeDicom('rle.dcm', { rows: h, columns: w, frames: 2, signed: true, transferSyntax: TS.rle, pixelData: encoded });
    const images = await readImages(file);
    images.forEach((img, f) => expect(Array.from(img.data)).toEqual(Array.from(frames[f]!)));
  });

  it('decodes RLE Lossless RGB', async () => {
    const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i < 18 ? 200 : i * 7));
    const file = await makeDicom('rle-rgb.dcm', {
      rows: 3,
      columns: 4,
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'RGB',
      transferSyntax: TS.rle,
      pixelData: [rleEncode(rgb, 12, 3, 1)],
    });
    expect(Array.from((await readImage(file)).data)).toEqual(Array.from(rgb));
  });

  it('decodes JPEG-LS (CharLS) losslessly, including signed data', async () => {
    const charls = await (require('@cornerstonejs/codec-charls/wasmjs') as (o: object) => Promise<Record<string, unknown>>)({ print() {}, printErr() {} });
    const encode = (samples: Uint16Array, w: number, h: number, bits: number) => {
      const Encoder = charls['JpegLSEncoder'] as new () => { getDecodedBuffer(i: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void };
      const enc = new Encoder();
      enc.getDecodedBuffer({ width: w, height: h, bitsPerSample: bits, componentCount: 1 }).set(new Uint8Array(bytesOf(samples)));
      enc.encode();
      const out = enc.getEncodedBuffer().slice();
      enc.delete();
      return bytesOf(out);
    };
    const w = 16;
    const h = 8;
    const unsigned = Uint16Array.from({ length: w * h }, (_, i) => (i * 37) % 4096);
    const a = await makeDicom('jls.dcm', { rows: h, columns: w, bitsStored: 12, transferSyntax: TS.jpegLs, pixelData: [encode(unsigned, w, h, 12)] });
    expect(Array.from((await readImage(a)).data)).toEqual(Array.from(unsigned));
    const signed = Int16Array.from({ length: w * h }, (_, i) => i * 50 - 3000);
    const b = await makeDicom('jls-signed.dcm', { rows: h, columns: w, signed: true, transferSyntax: TS.jpegLs, pixelData: [encode(new Uint16Array(bytesOf(signed)), w, h, 16)] });
    expect(Array.from((await readImage(b)).data)).toEqual(Array.from(signed));
  });

  it('decodes JPEG 2000 (OpenJPEG) losslessly, two frames', async () => {
    const openjpeg = await (require('@cornerstonejs/codec-openjpeg/wasmjs') as (o: object) => Promise<Record<string, unknown>>)({ print() {}, printErr() {} });
    const w = 32;
    const h = 24;
    const frames = [0, 1].map((f) => Int16Array.from({ length: w * h }, (_, i) => ((i * 131 + f * 7) % 5000) - 2500));
    const encoded = frames.map((fr) => {
      const Encoder = openjpeg['J2KEncoder'] as new () => {
        getDecodedBuffer(i: object): Uint8Array;
        setDecompositions(n: number): void;
        encode(): void;
        getEncodedBuffer(): Uint8Array;
        delete(): void;
      };
      const enc = new Encoder();
      enc.getDecodedBuffer({ width: w, height: h, bitsPerSample: 16, componentCount: 1, isSigned: true }).set(new Uint8Array(bytesOf(fr)));
      enc.setDecompositions(2);
      enc.encode();
      const out = enc.getEncodedBuffer().slice();
      enc.delete();
      return bytesOf(out);
    });
    const file = await makeDicom('j2k.dcm', { rows: h, columns: w, frames: 2, signed: true, transferSyntax: TS.j2k, pixelData: encoded });
    const images = await readImages(file);
    images.forEach((img, f) => expect(Array.from(img.data)).toEqual(Array.from(frames[f]!)));
  });

  it('decodes 8-bit JPEG Baseline through sharp (lossy: close, not equal)', async () => {
    const w = 16;
    const h = 16;
    const grey = Uint8Array.from({ length: w * h }, (_, i) => 40 + (i % w) * 8);
    const jpeg = await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(jpeg).metadata()).channels).toBe(1);
    const file = await makeDicom('jpeg.dcm', { rows: h, columns: w, bitsAllocated: 8, transferSyntax: TS.jpegBaseline, pixelData: [bytesOf(jpeg)] });
    const img = await readImage(file);
    expect([img.width, img.height, img.channels]).toEqual([w, h, 1]);
    const meanError = img.data.reduce((s, v, i) => s + Math.abs(v - grey[i]!), 0) / grey.length;
    expect(meanError).toBeLessThan(2);
  });
});

describe('DICOM: errors', () => {
  it('names an unsupported transfer syntax by UID and name', async () => {
    const file = await makeDicom('mpeg.dcm', { rows: 2, columns: 2, bitsAllocated: 8, transferSyntax: TS.mpeg2, pixelData: [new Uint8Array([0, 0, 1, 0xb3]).buffer] });
    await expectInputError(readImage(file), file, /unsupported transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100 \(MPEG2 Main Profile \/ Main Level\)/);
  });

  it('says when there is no pixel data', async () => {
    const file = await makeDicom('nopixels.dcm', { rows: 2, columns: 2 });
    await expectInputError(readImage(file), file, /truncated: it declares a 2x2 image but holds no Pixel Data/);
  });

  it('says when pixel data is shorter than rows x columns x frames x bytes', async () => {
    const file = await makeDicom('short.dcm', { rows: 4, columns: 4, frames: 2, pixelData: u16(new Array(20).fill(7)) });
    await expectInputError(readImage(file), file, /pixel data holds 40 bytes, expected 64/);
  });

  it('says when the file is cut short', async () => {
    const whole = await makeDicom('whole.dcm', { rows: 8, columns: 8, pixelData: u16(new Array(64).fill(3)) });
    const bytes = await fs.readFile(whole);
    const cut = path.join(dir, 'cut.dcm');
    await fs.writeFile(cut, bytes.subarray(0, bytes.length - 50));
    await expectInputError(readImage(cut), cut, /truncated: Pixel Data declares 128 bytes but only 78 are present/);
    const cutHeader = path.join(dir, 'cut-header.dcm');
    await fs.writeFile(cutHeader, bytes.subarray(0, 200));
    await expectInputError(readImage(cutHeader), cutHeader, /truncated|ends inside|not a valid DICOM/);
  });

  it('reports a corrupt JPEG 2000 codestream and a corrupt RLE frame', async () => {
    const j2k = await makeDicom('bad-j2k.dcm', { rows: 4, columns: 4, transferSyntax: TS.j2k, pixelData: [new Uint8Array([0xff, 0x4f, 0xff, 0x51, 1, 2, 3, 4]).buffer] });
    await expectInputError(readImage(j2k), j2k, /JPEG 2000 decoder failed/);
    const header = new DataView(new ArrayBuffer(64));
    header.setUint32(0, 5, true);
    const rle = await makeDicom('bad-rle.dcm', { rows: 4, columns: 4, transferSyntax: TS.rle, pixelData: [header.buffer] });
    await expectInputError(readImage(rle), rle, /RLE frame has 5 segments, expected 2/);
  });

  it('reports a BitsAllocated it cannot read', async () => {
    const file = await makeDicom('bits1.dcm', { rows: 8, columns: 8, bitsAllocated: 1, bitsStored: 1, pixelData: new Uint8Array(8).buffer });
    await expectInputError(readImage(file), file, /BitsAllocated 1 is not supported/);
  });
});
