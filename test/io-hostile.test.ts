/**
 * Hostile and odd inputs at the io floor (issue 15 items 6, 7, 9, 10, 11, 12, 17, 18): declared sizes checked before
 * allocating, decompression and pixel bombs refused under documented limits, malformed NIfTI headers refused,
 * discovered names never parsed as slice selectors, the output folder excluded from discovery, linear TIFF and
 * glob matching, truncation and full-disk messages, unique output names, and the output range helper.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, OutputError, UsageError } from '../src/errors.js';
import { writeFailure } from '../src/io/atomic.js';
import { boundToRange, compileInclude, createImage, inputRange, readImage, readImages, walkInputs, writeImages } from '../src/io/index.js';
import { discoveredInput, parseInputSpec } from '../src/io/input-spec.js';
import { DEFAULT_LIMITS } from '../src/io/limits.js';
import { uniqueOutputNames, volumeSuffix } from '../src/io/output-names.js';

const require = createRequire(import.meta.url);
type Dataset = Record<string, unknown>;
const dcmjs = require('dcmjs') as {
  data: {
    DicomDict: new (meta: object) => { dict: object; write(): ArrayBuffer };
    DicomMetaDictionary: { denaturalizeDataset(d: Dataset): object };
  };
};

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'io-hostile-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
const tmp = (name: string) => path.join(dir, name);

async function inputError(promise: Promise<unknown>, file: string, reason: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  expect(message.startsWith(`${file}: `)).toBe(true);
  expect(message).toMatch(reason);
}

function dicomBytes(ds: Dataset, transferSyntax = '1.2.840.10008.1.2.1'): Buffer {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
    MediaStorageSOPInstanceUID: '1.2.826.0.1.3680043.99.7',
    TransferSyntaxUID: transferSyntax,
    ImplementationClassUID: '1.2.826.0.1.3680043.99.3',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
    SOPInstanceUID: '1.2.826.0.1.3680043.99.7',
    Modality: 'MR',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    ...ds,
  });
  return Buffer.from(dict.write());
}

function niftiHeader(dims: number[], datatype = 2, bitpix = 8): Uint8Array {
  const bytes = new Uint8Array(352);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, 348, true);
  dims.forEach((d, i) => v.setInt16(40 + i * 2, d, true));
  v.setInt16(70, datatype, true);
  v.setInt16(72, bitpix, true);
  [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => v.setFloat32(76 + i * 4, p, true));
  v.setFloat32(108, 352, true);
  bytes.set([0x6e, 0x2b, 0x31, 0], 344);
  return bytes;
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A grey 8-bit PNG whose IHDR declares WIDTH x HEIGHT, with one deflated zero row of image data. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(new Uint8Array(width + 1))), chunk('IEND', new Uint8Array(0))]);
}

describe('declared sizes and input limits (items 6, 7)', () => {
  it('a DICOM declaring 2147483647 frames in a few KB is refused before anything is allocated', async () => {
    const file = tmp('frames.dcm');
    await fs.writeFile(file, dicomBytes({ Rows: 64, Columns: 64, NumberOfFrames: 2147483647, PixelData: [new Uint16Array(64 * 64).buffer], _vrMap: { PixelData: 'OW' } }));
    expect((await fs.stat(file)).size).toBeLessThan(10_000);
    await inputError(readImages(file), file, /pixel data holds 8192 bytes, expected 17592186036224 .*2147483647 frame/);
    await inputError(readImage(file), file, /pixel data holds 8192 bytes/);
  });

  it('an encapsulated DICOM declaring more frames than its file has bytes is refused', async () => {
    const file = tmp('frames-rle.dcm');
    await fs.writeFile(file, dicomBytes({ Rows: 8, Columns: 8, NumberOfFrames: 2147483647, PixelData: [new Uint8Array(100).buffer], _vrMap: { PixelData: 'OB' } }, '1.2.840.10008.1.2.5'));
    await inputError(readImages(file), file, /NumberOfFrames 2147483647 is impossible in a file of \d+ bytes/);
  });

  it('a .nii.gz that inflates beyond limits.maxBytes is refused while inflating; the limit can be raised', async () => {
    const dims = [3, 256, 256, 256, 1, 1, 1, 1]; // 16 MiB of uint8 zeros: gzip makes it ~16 KB
    const raw = new Uint8Array(352 + 256 * 256 * 256);
    raw.set(niftiHeader(dims));
    const file = tmp('bomb.nii.gz');
    await fs.writeFile(file, gzipSync(raw, { level: 1 }));
    expect((await fs.stat(file)).size).toBeLessThan(100_000);
    const limits = { maxBytes: 4 * 2 ** 20 };
    await inputError(readImages(file, { limits }), file, /decompresses to more than the input limit of 4 MiB \(limits\.maxBytes\)/);
    // Raised: read (one slice, to keep the test light).
    const img = await readImage(file, { limits: { maxBytes: 2 ** 25 }, slice: 3 });
    expect([img.width, img.height]).toEqual([256, 256]);
    expect(DEFAULT_LIMITS.maxBytes).toBe(2 ** 29);
  });

  it('a 16000x16000 PNG is refused from its header, before decoding; limits.maxPixels sets the bound', async () => {
    const file = tmp('huge.png');
    await fs.writeFile(file, pngHeaderOnly(16000, 16000));
    await inputError(readImage(file), file, /an image of 16000x16000 \(256000000 pixels\) exceeds the input limit of 67108864 pixels \(limits\.maxPixels\)/);
    await inputError(readImages(file, { limits: { maxPixels: 100 } }), file, /exceeds the input limit of 100 pixels/);
  });

  it('limits are checked as options', async () => {
    await expect(readImage(tmp('x.png'), { limits: { maxPixels: -1 } })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('malformed NIfTI headers (item 9)', () => {
  it('refuses dim[1] <= 0 instead of reading another shape', async () => {
    for (const d of [0, -5]) {
      const file = tmp(`dim${d}.nii`);
      const bytes = new Uint8Array(352 + 64);
      bytes.set(niftiHeader([3, d, 4, 4, 1, 1, 1, 1]));
      await fs.writeFile(file, bytes);
      await inputError(readImages(file), file, new RegExp(`corrupt NIfTI header: dim\\[1\\] is ${d}, expected a positive size`));
    }
  });

  it('refuses a vox_offset that is NaN instead of reading the header as voxels', async () => {
    const file = tmp('nan.nii');
    const bytes = new Uint8Array(352 + 64);
    bytes.set(niftiHeader([3, 4, 4, 4, 1, 1, 1, 1]));
    new DataView(bytes.buffer).setFloat32(108, NaN, true);
    await fs.writeFile(file, bytes);
    await inputError(readImages(file), file, /corrupt NIfTI header: vox_offset is NaN/);
  });
});

describe("discovered files and the output folder (items 11, 12)", () => {
  it("a '#' in a discovered file name is part of the name; only typed specs select slices", async () => {
    const folder = tmp('hash');
    await fs.mkdir(folder);
    const file = path.join(folder, 'scan#z=1.png');
    await sharp({ create: { width: 4, height: 3, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toFile(file);
    const [found] = await walkInputs(folder);
    expect(found).toBe(file);
    const spec = discoveredInput(found!);
    expect(spec).toEqual({ path: file, read: {}, text: file });
    expect((await readImage(spec.path, spec.read)).width).toBe(4);
    // Parsed as if typed, the name is a bad selector: what aborted batches before discovered files were kept apart.
    expect(() => parseInputSpec(file)).toThrow(UsageError);
    expect(parseInputSpec(`${file}#page=0`)).toMatchObject({ path: file, read: { slice: 0 } });
  });

  it('walkInputs never returns or enters an excluded folder (the run output inside an input folder)', async () => {
    const folder = tmp('in');
    await fs.mkdir(path.join(folder, 'out'), { recursive: true });
    await fs.writeFile(path.join(folder, 'a.png'), 'x');
    await fs.writeFile(path.join(folder, 'out', 'a.png'), 'x');
    await fs.writeFile(path.join(folder, 'out', 'manifest.json'), '{}');
    expect(await walkInputs(folder)).toHaveLength(3);
    expect(await walkInputs(folder, { exclude: [path.join(folder, 'out')] })).toEqual([path.join(folder, 'a.png')]);
    // Another spelling of the same folder, and a folder that does not exist yet.
    expect(await walkInputs(folder, { exclude: [path.join(folder, 'x', '..', 'out/'), tmp('later')] })).toEqual([path.join(folder, 'a.png')]);
  });
});

describe('slow paths (item 17)', () => {
  it('a crafted --include glob cannot backtrack: the classic catastrophic pattern answers at once', () => {
    const match = compileInclude(`${'*a'.repeat(30)}b`);
    const text = 'a'.repeat(5000);
    const t0 = process.hrtime.bigint();
    expect(match(text)).toBe(false);
    // A regular expression built from the same pattern backtracks for minutes; this is a correctness check that it
    // still matches what it should, the speed is in BENCHMARKS.md.
    expect(match(`${'a'.repeat(40)}b`)).toBe(true);
    expect(Number(process.hrtime.bigint() - t0)).toBeGreaterThan(0);
  });

  it('globs keep their meaning: *, ?, **, **/, {a,b}, case-insensitive', () => {
    const m = (p: string | string[], rel: string) => compileInclude(p)(rel);
    expect(m('*.dcm', 'sub/x.DCM')).toBe(true);
    expect(m('*.dcm', 'x.dcm.bak')).toBe(false);
    expect(m('sub/*.png', 'sub/a.png')).toBe(true);
    expect(m('sub/*.png', 'sub/deep/a.png')).toBe(false);
    expect(m('**/*.png', 'a.png')).toBe(true);
    expect(m('**/*.png', 'x/y/a.png')).toBe(true);
    expect(m('x/**/a.png', 'x/a.png')).toBe(true);
    expect(m('x/**/a.png', 'x/p/q/a.png')).toBe(true);
    expect(m('x/**/a.png', 'xa.png')).toBe(false);
    expect(m('x/**', 'x/p/q')).toBe(true);
    expect(m('slice?.nii', 'slice7.nii')).toBe(true);
    expect(m('slice?.nii', 'slice17.nii')).toBe(false);
    expect(m('*.{nii,nii.gz}', 'b.nii.gz')).toBe(true);
    expect(m(['*.png', '*.jpg'], 'c.JPG')).toBe(true);
  });

  it('brace expansion that would multiply into millions of patterns is a usage error', () => {
    expect(() => compileInclude('{a,b}'.repeat(25))).toThrow(UsageError);
  });

  it('reads every page of a many-page TIFF in one pass, pages in order', async () => {
    const pages = 300;
    const file = tmp('pages.tif');
    const frames = Array.from({ length: pages }, (_, p) => createImage(2, 1, 1, Float32Array.from([p, p + 1000])));
    await writeImages(frames, file, { bitDepth: 16 });
    const images = await readImages(file);
    expect(images).toHaveLength(pages);
    images.forEach((img, p) => {
      expect(Array.from(img.data)).toEqual([p, p + 1000]);
      expect([img.meta.sliceIndex, img.meta.sliceCount]).toEqual([p, pages]);
    });
    expect(Array.from((await readImage(file, { slice: 123 })).data)).toEqual([123, 1123]);
    // Pages of different sizes cannot be decoded in one pass: page by page, still in order.
    const mixed = tmp('mixed.tif');
    await writeImages([createImage(2, 1, 1, Float32Array.from([1, 2])), createImage(3, 2, 1, Float32Array.from([3, 4, 5, 6, 7, 8]))], mixed, { bitDepth: 8 });
    expect((await readImages(mixed)).map((i) => [i.width, i.height, Array.from(i.data)])).toEqual([
      [2, 1, [1, 2]],
      [3, 2, [3, 4, 5, 6, 7, 8]],
    ]);
  });
});

describe('messages (item 18)', () => {
  it('a truncated JPEG-LS DICOM says truncated, never "no pixel data"', async () => {
    const charls = await (require('@cornerstonejs/codec-charls/wasmjs') as (o: object) => Promise<Record<string, unknown>>)({ print() {}, printErr() {} });
    const Encoder = charls['JpegLSEncoder'] as new () => { getDecodedBuffer(i: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void };
    const enc = new Encoder();
    const samples = Uint16Array.from({ length: 32 * 32 }, (_, i) => (i * 37) % 4096);
    enc.getDecodedBuffer({ width: 32, height: 32, bitsPerSample: 12, componentCount: 1 }).set(new Uint8Array(samples.buffer));
    enc.encode();
    const jls = enc.getEncodedBuffer().slice();
    enc.delete();
    const whole = dicomBytes({ Rows: 32, Columns: 32, BitsStored: 12, HighBit: 11, PixelData: [jls.buffer], _vrMap: { PixelData: 'OB' } }, '1.2.840.10008.1.2.4.80');
    const pixelStart = whole.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    expect(pixelStart).toBeGreaterThan(0);
    const file = tmp('jls.dcm');
    await fs.writeFile(file, whole);
    expect(Array.from((await readImage(file)).data)).toEqual(Array.from(samples));
    // Every cut from the end of the file meta information on: between elements, inside Pixel Data, in a fragment.
    for (let cut = 200; cut < whole.length; cut += cut < pixelStart + 40 ? 1 : 5) {
      const f = tmp(`jls-${cut}.dcm`);
      await fs.writeFile(f, whole.subarray(0, cut));
      const message = await readImages(f).then(() => 'read', (e: Error) => e.message);
      expect([cut, message]).toEqual([cut, expect.stringMatching(/truncated|ends inside/)]);
      expect(message).not.toMatch(/: no pixel data/);
    }
  });

  it('a full disk reads "no space left on device" (a real ENOSPC from /dev/full)', async () => {
    const err = await fs.writeFile('/dev/full', 'x').then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!err) return; // not Linux
    expect(writeFailure(err)).toBe('no space left on device (ENOSPC)');
    expect(new OutputError('out/a.nii.gz', writeFailure(err)).message).toBe('cannot write out/a.nii.gz: no space left on device (ENOSPC)');
  });
});

describe('unique output names (item 10)', () => {
  const names = (plans: { input: string; root?: string; outputs: string[] }[]) => uniqueOutputNames(plans);
  it('a.png, a.jpg and sub/a.png: the sub-folder is kept and the extension disambiguates', () => {
    const root = path.join('in');
    expect(
      names([
        { input: path.join(root, 'a.png'), root, outputs: ['.png'] },
        { input: path.join(root, 'a.jpg'), root, outputs: ['.png'] },
        { input: path.join(root, 'sub', 'a.png'), root, outputs: ['.png'] },
        { input: path.join(root, 'b.png'), root, outputs: ['.png'] },
      ]),
    ).toEqual([['a-png.png'], ['a-jpg.png'], ['sub/a.png'], ['b.png']]);
  });
  it('x.nii and x.nii.gz', () => {
    expect(names([{ input: 'x.nii', outputs: ['.nii.gz'] }, { input: 'x.nii.gz', outputs: ['.nii.gz'] }])).toEqual([['x-nii.nii.gz'], ['x-nii-gz.nii.gz']]);
  });
  it('m-0003.dcm and frame 3 of m.dcm', () => {
    expect(
      names([
        { input: 'm.dcm', outputs: ['-0002.dcm', '-0003.dcm'] },
        { input: 'm-0003.dcm', outputs: ['.dcm'] },
      ]),
    ).toEqual([['m-dcm-0002.dcm', 'm-dcm-0003.dcm'], ['m-0003-dcm.dcm']]);
  });
  it('the same name from two folders given directly, case-insensitively, and volumes of a 4-D file', () => {
    expect(names([{ input: 'p/A.png', outputs: ['.png'] }, { input: 'q/a.PNG', outputs: ['.png'] }])).toEqual([['A-png.png'], ['a-PNG-2.png']]);
    expect(names([{ input: 'f.nii.gz', outputs: [0, 1].map((t) => `${volumeSuffix(t)}.nii.gz`) }])).toEqual([['f-t0.nii.gz', 'f-t1.nii.gz']]);
  });
});

describe('output range (issue 14)', () => {
  it("'input' bounds values to the input's range, 'free' leaves them", () => {
    const input = [createImage(2, 1, 1, Float32Array.from([0, 100])), createImage(2, 1, 1, Float32Array.from([20, 2246]))];
    const range = inputRange(input);
    expect(range).toEqual({ min: 0, max: 2246 });
    const out = createImage(4, 1, 1, Float32Array.from([-597, 5, 2245.5, 3000]));
    expect(Array.from(boundToRange(out, range).data)).toEqual([0, 5, 2245.5, 2246]);
    expect(boundToRange(out, range).meta.range).toEqual({ min: 0, max: 2246 });
    expect(boundToRange(out, range, 'free')).toBe(out);
    // A windowed image ([0, 1] data with meta.window) is bounded in its own units.
    const windowed = { ...createImage(2, 1, 1, Float32Array.from([-0.5, 1.5])), meta: { ...out.meta, window: { low: 0, high: 2000 } } };
    const bounded = boundToRange(windowed, range).data;
    expect(bounded[0]).toBe(0);
    expect(bounded[1]).toBeCloseTo(1.123, 6);
    expect(() => boundToRange(out, range, 'clip' as never)).toThrow(UsageError);
  });
});
