/**
 * DICOM: reading (dcmjs for the dataset; pixel decoding here and in dicom-codecs.ts) and writing derived images.
 *
 * Reading: uncompressed Implicit/Explicit VR Little Endian, Explicit VR Big Endian and Deflated; RLE Lossless;
 * JPEG 2000; JPEG-LS; 8-bit JPEG. Multi-frame files give one image per frame. Stored values are masked to
 * BitsStored and sign-extended when PixelRepresentation is 1, MONOCHROME1 is inverted within the stored range
 * (so bright means high, as in MONOCHROME2), and RescaleSlope/Intercept (per frame for enhanced objects) are
 * applied: the image holds the modality's units.
 *
 * Writing: a derived object built from the source's dataset when there is one (patient and study kept, new series
 * and instance UIDs, ImageType DERIVED\SECONDARY), Explicit VR Little Endian, 16-bit samples with
 * RescaleSlope/Intercept chosen so the stored integers map back to the float values.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { decodeJpeg2000, decodeJpegBaseline, decodeJpegLs, decodeRle, type DecodedFrame } from './dicom-codecs.js';
import type { DicomMeta, RawImage, SampleType, SliceGeometry } from './image.js';
import { deepCopy, resolveSlice, valueRange } from './image.js';

// ---------------------------------------------------------------------------------------------------------------
// dcmjs (CommonJS build, loaded on first use; its logger is silenced while it works: library code never prints)

type Dataset = Record<string, unknown>;
interface DicomDictInstance {
  meta: Dataset;
  dict: Dataset;
  write(options?: object): ArrayBuffer;
}
interface Dcmjs {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: object): DicomDictInstance };
    DicomMetaDictionary: {
      naturalizeDataset(dict: Dataset): Dataset;
      denaturalizeDataset(dataset: Dataset): Dataset;
      sopClassNamesByUID: Record<string, string>;
    };
    DicomDict: new (meta: Dataset) => DicomDictInstance;
  };
  log: Logger & { getLoggers?(): Record<string, Logger> };
}
interface Logger {
  getLevel(): number;
  setLevel(level: number | string, persist?: boolean): void;
}

const require = createRequire(import.meta.url);
let dcmjsModule: Dcmjs | undefined;
function dcmjs(): Dcmjs {
  dcmjsModule ??= require('dcmjs') as Dcmjs;
  return dcmjsModule;
}

function quietly<T>(fn: () => T): T {
  const { log } = dcmjs();
  // The root logger and its named children ('validation.dcmjs', ...) keep separate levels.
  const loggers = [log, ...Object.values(log.getLoggers?.() ?? {})];
  const levels = loggers.map((l) => l.getLevel());
  for (const l of loggers) l.setLevel('silent', false);
  try {
    return fn();
  } finally {
    loggers.forEach((l, i) => l.setLevel(levels[i]!, false));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Transfer syntaxes

const TRANSFER_SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.98': 'Encapsulated Uncompressed Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, Selection Value 1)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless Image Compression',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Lossy (Near-Lossless) Image Compression',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Image Compression (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000 Image Compression',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2 Multi-component Image Compression',
  '1.2.840.10008.1.2.4.94': 'JPIP Referenced',
  '1.2.840.10008.1.2.4.95': 'JPIP Referenced Deflate',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile / Main Level',
  '1.2.840.10008.1.2.4.101': 'MPEG2 Main Profile / High Level',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 High Profile / Level 4.1',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1',
  '1.2.840.10008.1.2.4.104': 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video',
  '1.2.840.10008.1.2.4.105': 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video',
  '1.2.840.10008.1.2.4.106': 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile / Level 5.1',
  '1.2.840.10008.1.2.4.108': 'HEVC/H.265 Main 10 Profile / Level 5.1',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 Image Compression (Lossless Only)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000 Image Compression',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

type Codec = 'native' | 'rle' | 'jpeg2000' | 'jpegls' | 'jpeg';
const CODECS: Record<string, Codec> = {
  '1.2.840.10008.1.2': 'native',
  '1.2.840.10008.1.2.1': 'native',
  '1.2.840.10008.1.2.1.99': 'native',
  '1.2.840.10008.1.2.2': 'native',
  '1.2.840.10008.1.2.5': 'rle',
  '1.2.840.10008.1.2.4.90': 'jpeg2000',
  '1.2.840.10008.1.2.4.91': 'jpeg2000',
  '1.2.840.10008.1.2.4.80': 'jpegls',
  '1.2.840.10008.1.2.4.81': 'jpegls',
  '1.2.840.10008.1.2.4.50': 'jpeg',
  '1.2.840.10008.1.2.4.51': 'jpeg',
};

export function transferSyntaxName(uid: string): string {
  return TRANSFER_SYNTAX_NAMES[uid] ?? 'unknown transfer syntax';
}

/** The transfer syntaxes this reader decodes. */
export const SUPPORTED_TRANSFER_SYNTAXES: readonly string[] = Object.keys(CODECS);

// ---------------------------------------------------------------------------------------------------------------
// A light walk over the file's elements: dcmjs fills a truncated value with zeros, so truncation is found here.

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

interface Scan {
  transferSyntaxUID?: string;
  pixelData?: { valueOffset: number; length: number };
  /** Why the file is cut short, if it is. */
  truncated?: string;
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

class Walker {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  header(at: number, explicit: boolean, little: boolean) {
    const { view, bytes } = this;
    if (at + 8 > bytes.length) return undefined;
    const group = view.getUint16(at, little);
    const element = view.getUint16(at + 2, little);
    if (group === 0xfffe || !explicit) return { group, element, vr: '', length: view.getUint32(at + 4, little), size: 8 };
    const vr = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!);
    if (LONG_VRS.has(vr)) {
      if (at + 12 > bytes.length) return undefined;
      return { group, element, vr, length: view.getUint32(at + 8, little), size: 12 };
    }
    return { group, element, vr, length: view.getUint16(at + 6, little), size: 8 };
  }

  /** Skip the items of an undefined-length sequence (or encapsulated pixel data); the offset after its delimiter. */
  skipSequence(at: number, explicit: boolean, little: boolean, depth: number): number {
    if (depth > 32) throw new Error('sequences nested too deeply');
    for (;;) {
      const h = this.header(at, false, little);
      if (!h) throw new Error(`the file ends inside a sequence at byte ${at}`);
      if (h.group !== 0xfffe) throw new Error(`unexpected element (${hex4(h.group)},${hex4(h.element)}) inside a sequence at byte ${at}`);
      at += 8;
      if (h.element === 0xe0dd) return at;
      if (h.length === UNDEFINED) at = this.skipItem(at, explicit, little, depth + 1);
      else at += h.length;
    }
  }

  private skipItem(at: number, explicit: boolean, little: boolean, depth: number): number {
    for (;;) {
      const h = this.header(at, explicit, little);
      if (!h) throw new Error(`the file ends inside a sequence item at byte ${at}`);
      if (h.group === 0xfffe && h.element === 0xe00d) return at + 8;
      at += h.size;
      if (h.length === UNDEFINED) at = this.skipSequence(at, h.vr === 'UN' ? false : explicit, h.vr === 'UN' ? true : little, depth + 1);
      else at += h.length;
    }
  }
}

function scanFile(bytes: Uint8Array): Scan {
  const walker = new Walker(bytes);
  let at = 132;
  let transferSyntaxUID: string | undefined;
  let metaEnd: number | undefined;
  // File meta information: always Explicit VR Little Endian, group 0002.
  for (;;) {
    const h = walker.header(at, true, true);
    if (!h || h.group !== 0x0002) break;
    if (h.element === 0x0000 && h.length === 4 && at + 12 <= bytes.length) metaEnd = at + 12 + walker.view.getUint32(at + 8, true);
    if (h.element === 0x0010) transferSyntaxUID = String.fromCharCode(...bytes.subarray(at + h.size, at + h.size + h.length)).replace(/[\0 ]+$/, '');
    at += h.size + h.length;
    if (metaEnd !== undefined && at >= metaEnd) break;
  }
  const scan: Scan = transferSyntaxUID ? { transferSyntaxUID } : {};
  if (!transferSyntaxUID || transferSyntaxUID === '1.2.840.10008.1.2.1.99') return scan; // deflated: dcmjs inflates
  const explicit = transferSyntaxUID !== '1.2.840.10008.1.2';
  const little = transferSyntaxUID !== '1.2.840.10008.1.2.2';
  try {
    while (at < bytes.length) {
      const h = walker.header(at, explicit, little);
      if (!h) {
        if (bytes.subarray(at).every((b) => b === 0)) break; // zero padding at the end
        scan.truncated = `the file ends inside the header of an element at byte ${at}`;
        break;
      }
      const valueOffset = at + h.size;
      const tag = `(${hex4(h.group)},${hex4(h.element)})`;
      if (h.group === 0x7fe0 && h.element === 0x0010) scan.pixelData = { valueOffset, length: h.length };
      if (h.length === UNDEFINED) {
        at = walker.skipSequence(valueOffset, h.vr === 'UN' ? false : explicit, h.vr === 'UN' ? true : little, 0);
        continue;
      }
      if (valueOffset + h.length > bytes.length) {
        const present = bytes.length - valueOffset;
        scan.truncated =
          h.group === 0x7fe0 && h.element === 0x0010
            ? `the file is truncated: Pixel Data declares ${h.length} bytes but only ${present} are present`
            : `the file is truncated: element ${tag} at byte ${at} declares ${h.length} bytes but only ${present} are present`;
        break;
      }
      at = valueOffset + h.length;
    }
  } catch (err) {
    scan.truncated = (err as Error).message;
  }
  return scan;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface DicomReadOptions {
  /** Read only this frame (0-based), or the middle one. */
  slice?: number | 'middle';
}

function first<T = Dataset>(value: unknown): T | undefined {
  if (Array.isArray(value)) return value[0] as T | undefined;
  return (value ?? undefined) as T | undefined;
}

function num(value: unknown): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function nums(value: unknown, count: number): number[] | undefined {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : undefined;
  if (!list || list.length < count) return undefined;
  const out = list.slice(0, count).map((v) => num(v));
  return out.every((v) => v !== undefined) ? (out as number[]) : undefined;
}

function str(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' ? v.trim() : undefined;
}

function toBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/** Look an attribute up in this frame's functional groups, the shared groups, then the top level. */
function frameAttribute(ds: Dataset, frame: number, sequence: string, name: string): unknown {
  const perFrame = ds['PerFrameFunctionalGroupsSequence'];
  const own = Array.isArray(perFrame) ? (perFrame[frame] as Dataset | undefined) : undefined;
  for (const groups of [own, first<Dataset>(ds['SharedFunctionalGroupsSequence'])]) {
    const item = groups ? first<Dataset>(groups[sequence]) : undefined;
    if (item && item[name] !== undefined) return item[name];
  }
  return ds[name];
}

interface FrameInfo {
  slope: number;
  intercept: number;
  geometry?: SliceGeometry;
}

function frameInfo(ds: Dataset, frame: number): FrameInfo {
  const slope = num(frameAttribute(ds, frame, 'PixelValueTransformationSequence', 'RescaleSlope')) ?? 1;
  const intercept = num(frameAttribute(ds, frame, 'PixelValueTransformationSequence', 'RescaleIntercept')) ?? 0;
  const ipp = nums(frameAttribute(ds, frame, 'PlanePositionSequence', 'ImagePositionPatient'), 3);
  const iop = nums(frameAttribute(ds, frame, 'PlaneOrientationSequence', 'ImageOrientationPatient'), 6);
  const spacing = nums(frameAttribute(ds, frame, 'PixelMeasuresSequence', 'PixelSpacing'), 2) ?? [1, 1];
  const thickness =
    num(frameAttribute(ds, frame, 'PixelMeasuresSequence', 'SpacingBetweenSlices')) ?? num(frameAttribute(ds, frame, 'PixelMeasuresSequence', 'SliceThickness')) ?? 1;
  const info: FrameInfo = { slope: slope === 0 ? 1 : slope, intercept };
  if (ipp && iop) info.geometry = { affine: dicomAffine(ipp, iop, spacing, thickness) };
  return info;
}

const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const norm = (a: number[]) => Math.hypot(a[0]!, a[1]!, a[2]!);

/** (column, row, slice) -> RAS mm, from DICOM's LPS ImagePositionPatient / ImageOrientationPatient / PixelSpacing. */
export function dicomAffine(ipp: number[], iop: number[], pixelSpacing: number[], sliceSpacing: number): number[][] {
  const r = iop.slice(0, 3);
  const c = iop.slice(3, 6);
  const n = cross(r, c);
  const [dr, dc] = [pixelSpacing[0]!, pixelSpacing[1]!]; // spacing between rows, between columns
  const lps = [0, 1, 2].map((i) => [r[i]! * dc, c[i]! * dr, n[i]! * sliceSpacing, ipp[i]!]);
  const z = (v: number) => v + 0; // no negative zeros
  return [lps[0]!.map((v) => z(-v)), lps[1]!.map((v) => z(-v)), lps[2]!.map(z), [0, 0, 0, 1]];
}

/** The inverse of `dicomAffine`: LPS position, orientation, spacing and slice spacing of a slice. */
export function affineToDicom(affine: number[][]): { ipp: number[]; iop: number[]; pixelSpacing: number[]; sliceSpacing: number } {
  const lps = (col: number) => [-affine[0]![col]! + 0, -affine[1]![col]! + 0, affine[2]![col]! + 0];
  const r = lps(0);
  const c = lps(1);
  const n = lps(2);
  const dc = norm(r) || 1;
  const dr = norm(c) || 1;
  return {
    ipp: lps(3),
    iop: [...r.map((v) => v / dc), ...c.map((v) => v / dr)],
    pixelSpacing: [dr, dc],
    sliceSpacing: norm(n) || 1,
  };
}

/** Split encapsulated fragments into frames: one each, all in one, or by codestream start markers. */
function framesFromFragments(fragments: Uint8Array[], frames: number, codec: Codec): Uint8Array[] {
  if (fragments.length === frames) return fragments;
  const concat = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  if (frames === 1) return [concat(fragments)];
  const isStart = (f: Uint8Array) =>
    codec === 'jpeg2000' ? (f[0] === 0xff && f[1] === 0x4f && f[2] === 0xff && f[3] === 0x51) || (f[4] === 0x6a && f[5] === 0x50) : f[0] === 0xff && f[1] === 0xd8;
  if (codec !== 'rle') {
    const grouped: Uint8Array[][] = [];
    for (const f of fragments) {
      if (isStart(f) || grouped.length === 0) grouped.push([f]);
      else grouped[grouped.length - 1]!.push(f);
    }
    if (grouped.length === frames) return grouped.map(concat);
  }
  throw new Error(`encapsulated pixel data holds ${fragments.length} fragments for ${frames} frames and no offset table to group them`);
}

/** Unsigned container values -> stored values: shift to HighBit, keep BitsStored bits, sign-extend if signed. */
function storedValue(pattern: number, bitsStored: number, signed: boolean): number {
  const m = 2 ** bitsStored;
  let v = ((pattern % m) + m) % m;
  if (signed && v >= m / 2) v -= m;
  return v;
}

function nativeSamples(frame: Uint8Array, bitsAllocated: number, little: boolean, count: number): Float64Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out = new Float64Array(count);
  if (bitsAllocated === 8) for (let i = 0; i < count; i++) out[i] = frame[i]!;
  else if (bitsAllocated === 16) for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, little);
  else for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 4, little);
  return out;
}

function fail(reason: string): never {
  throw new Error(reason);
}

/** Read a DICOM file's frames. Errors are plain Errors with a one-line reason; the caller names the file. */
export async function readDicom(bytes: Uint8Array, source: string, options: DicomReadOptions = {}): Promise<RawImage[]> {
  const scan = scanFile(bytes);
  let parsed: DicomDictInstance;
  try {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const buffer = (whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer;
    parsed = quietly(() => dcmjs().data.DicomMessage.readFile(buffer));
  } catch (err) {
    fail(scan.truncated ?? `not a valid DICOM file: ${String((err as Error).message ?? err).split('\n')[0]}`);
  }
  const { naturalizeDataset, sopClassNamesByUID } = dcmjs().data.DicomMetaDictionary;
  const meta = quietly(() => naturalizeDataset(parsed.meta));
  const ds = quietly(() => naturalizeDataset(parsed.dict));
  const transferSyntaxUID = str(meta['TransferSyntaxUID']) ?? scan.transferSyntaxUID ?? fail('no TransferSyntaxUID in the file meta information');
  if (scan.truncated) fail(scan.truncated);

  const sopClassUID = str(ds['SOPClassUID']) ?? str(meta['MediaStorageSOPClassUID']);
  if (ds['PixelData'] === undefined) {
    if (ds['FloatPixelData'] !== undefined || ds['DoubleFloatPixelData'] !== undefined) fail('float pixel data (7FE0,0008/0009) is not supported');
    const kind = sopClassUID ? ` (SOP class ${sopClassUID}${sopClassNamesByUID[sopClassUID] ? `, ${sopClassNamesByUID[sopClassUID]}` : ''})` : '';
    fail(`no pixel data: not an image${kind}`);
  }
  const codec = CODECS[transferSyntaxUID];
  if (!codec) fail(`unsupported transfer syntax ${transferSyntaxUID} (${transferSyntaxName(transferSyntaxUID)})`);

  const rows = num(ds['Rows']) ?? 0;
  const columns = num(ds['Columns']) ?? 0;
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(columns) && columns > 0)) fail(`invalid image size: Rows ${rows}, Columns ${columns}`);
  const samplesPerPixel = num(ds['SamplesPerPixel']) ?? 1;
  const bitsAllocated = num(ds['BitsAllocated']) ?? fail('no BitsAllocated');
  const bitsStored = num(ds['BitsStored']) ?? bitsAllocated;
  const highBit = num(ds['HighBit']) ?? bitsStored - 1;
  const signed = (num(ds['PixelRepresentation']) ?? 0) === 1;
  const photometric = (str(ds['PhotometricInterpretation']) ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).toUpperCase();
  const planar = num(ds['PlanarConfiguration']) ?? 0;
  const frames = Math.max(1, Math.round(num(ds['NumberOfFrames']) ?? 1));
  if (![8, 16, 32].includes(bitsAllocated)) fail(`BitsAllocated ${bitsAllocated} is not supported (8, 16 or 32)`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    fail(`inconsistent bit layout: BitsAllocated ${bitsAllocated}, BitsStored ${bitsStored}, HighBit ${highBit}`);
  }
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) fail(`SamplesPerPixel ${samplesPerPixel} is not supported (1 or 3)`);
  if (samplesPerPixel === 1 && photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') fail(`photometric interpretation ${photometric} is not supported`);
  if (samplesPerPixel === 3 && !['RGB', 'YBR_FULL', 'YBR_RCT', 'YBR_ICT', 'YBR_FULL_422'].includes(photometric)) {
    fail(`photometric interpretation ${photometric} is not supported`);
  }
  if (samplesPerPixel === 3 && photometric === 'YBR_FULL_422' && codec !== 'jpeg') fail('YBR_FULL_422 is only supported inside JPEG');

  const wanted = options.slice === undefined ? Array.from({ length: frames }, (_, i) => i) : [resolveSlice(options.slice, frames, 'frame')];

  const pixelsPerFrame = rows * columns;
  const samplesPerFrame = pixelsPerFrame * samplesPerPixel;
  const pixelData = ds['PixelData'] as unknown[];
  let nativeData: Uint8Array | undefined;
  let encapsulated: Uint8Array[] | undefined;
  if (codec === 'native') {
    nativeData = toBytes(Array.isArray(pixelData) ? pixelData[0] : pixelData) ?? fail('pixel data is empty');
    const expected = samplesPerFrame * (bitsAllocated / 8) * frames;
    const present = scan.pixelData ? Math.min(nativeData.length, scan.pixelData.length, bytes.length - scan.pixelData.valueOffset) : nativeData.length;
    if (present < expected) {
      fail(
        `pixel data holds ${present} bytes, expected ${expected} (${columns}x${rows}, ${samplesPerPixel} sample(s), ${frames} frame(s), ${bitsAllocated} bits)`,
      );
    }
  } else {
    const fragments = (Array.isArray(pixelData) ? pixelData : [pixelData]).map(toBytes).filter((f): f is Uint8Array => f !== undefined && f.length > 0);
    if (fragments.length === 0) fail('encapsulated pixel data holds no fragments');
    encapsulated = framesFromFragments(fragments, frames, codec);
  }

  const datasetCopy = (frame: number): Dataset => {
    const copy: Dataset = {};
    for (const [key, value] of Object.entries(ds)) {
      if (key === 'PixelData') continue;
      if (key === 'PerFrameFunctionalGroupsSequence' && Array.isArray(value)) copy[key] = deepCopy([value[frame]]);
      else copy[key] = deepCopy(value);
    }
    return copy;
  };

  const images: RawImage[] = [];
  for (const f of wanted) {
    let samples: Float64Array | Int32Array;
    let photometricOut = photometric;
    if (codec === 'native' || codec === 'rle') {
      let frameBytes: Uint8Array;
      let little = transferSyntaxUID !== '1.2.840.10008.1.2.2';
      if (codec === 'native') {
        const size = samplesPerFrame * (bitsAllocated / 8);
        frameBytes = nativeData!.subarray(f * size, (f + 1) * size);
      } else {
        frameBytes = decodeRle(encapsulated![f]!, rows, columns, samplesPerPixel, bitsAllocated);
        little = true;
      }
      samples = nativeSamples(frameBytes, bitsAllocated, little, samplesPerFrame);
      const shift = highBit + 1 - bitsStored;
      if (shift > 0) for (let i = 0; i < samples.length; i++) samples[i] = Math.floor(samples[i]! / 2 ** shift);
      if (samplesPerPixel === 3 && planar === 1 && codec === 'native') {
        const planes = samples;
        samples = new Float64Array(samplesPerFrame);
        for (let c = 0; c < 3; c++) for (let p = 0; p < pixelsPerFrame; p++) samples[p * 3 + c] = planes[c * pixelsPerFrame + p]!;
      }
    } else {
      const encoded = encapsulated![f]!;
      const decoded: DecodedFrame =
        codec === 'jpeg2000' ? await decodeJpeg2000(encoded) : codec === 'jpegls' ? await decodeJpegLs(encoded) : await decodeJpegBaseline(encoded, samplesPerPixel);
      if (decoded.width !== columns || decoded.height !== rows) {
        fail(`frame ${f + 1} decodes to ${decoded.width}x${decoded.height}, but the header says ${columns}x${rows}`);
      }
      if (decoded.components !== samplesPerPixel) fail(`frame ${f + 1} decodes to ${decoded.components} component(s), but SamplesPerPixel is ${samplesPerPixel}`);
      samples = decoded.samples;
      if (samplesPerPixel === 3 && (codec === 'jpeg' || codec === 'jpeg2000')) photometricOut = 'RGB'; // the codec already converted colour
    }

    const info = frameInfo(ds, f);
    const out = new Float32Array(samplesPerFrame);
    const monochrome = samplesPerPixel === 1;
    const invert = photometric === 'MONOCHROME1';
    const lo = signed ? -(2 ** (bitsStored - 1)) : 0;
    const hi = signed ? 2 ** (bitsStored - 1) - 1 : 2 ** bitsStored - 1;
    const slope = monochrome ? info.slope : 1;
    const intercept = monochrome ? info.intercept : 0;
    const m = 2 ** bitsStored;
    const mask = m - 1;
    const half = m / 2;
    for (let i = 0; i < samplesPerFrame; i++) {
      let v: number;
      if (bitsStored <= 30) {
        v = samples[i]! & mask; // two's complement bits of a possibly negative codec sample
        if (signed && v >= half) v -= m;
      } else v = storedValue(samples[i]!, bitsStored, signed);
      if (invert) v = lo + hi - v;
      out[i] = v * slope + intercept;
    }
    if (!monochrome && photometricOut === 'YBR_FULL') {
      for (let p = 0; p < samplesPerFrame; p += 3) {
        const y = out[p]!;
        const cb = out[p + 1]! - 128;
        const cr = out[p + 2]! - 128;
        out[p] = clamp255(y + 1.402 * cr);
        out[p + 1] = clamp255(y - 0.344136 * cb - 0.714136 * cr);
        out[p + 2] = clamp255(y + 1.772 * cb);
      }
    }
    const dtype: SampleType = bitsAllocated === 8 ? (signed ? 'int8' : 'uint8') : bitsAllocated === 16 ? (signed ? 'int16' : 'uint16') : signed ? 'int32' : 'uint32';
    const dicomMeta: DicomMeta = {
      dataset: datasetCopy(f),
      transferSyntaxUID,
      frame: f,
      rescaleSlope: monochrome ? info.slope : 1,
      rescaleIntercept: monochrome ? info.intercept : 0,
      photometricInterpretation: photometric,
      inverted: invert,
    };
    if (sopClassUID) dicomMeta.sopClassUID = sopClassUID;
    const sop = str(ds['SOPInstanceUID']);
    if (sop) dicomMeta.sopInstanceUID = sop;
    images.push({
      data: out,
      width: columns,
      height: rows,
      channels: samplesPerPixel,
      meta: {
        format: 'dicom',
        source,
        dtype,
        bitDepth: bitsStored,
        range: valueRange(out, samplesPerPixel),
        hasAlpha: false,
        sliceIndex: f,
        sliceCount: frames,
        ...(info.geometry ? { geometry: info.geometry } : {}),
        dicom: dicomMeta,
      },
    });
  }
  return images;
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/** A new UID under the UUID root: '2.25.' and a random (version 4) UUID as a decimal integer. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

const IMPLEMENTATION_CLASS_UID = '2.25.243016783611508593262301580770215234724';
const IMPLEMENTATION_VERSION = 'UNET_DREAM_0_1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
/** Enhanced (multi-frame) classes whose single frames are written as the classic single-frame class. */
const CLASSIC_OF: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.4.1': MR_IMAGE,
  '1.2.840.10008.5.1.4.1.1.4.4': MR_IMAGE,
  '1.2.840.10008.5.1.4.1.1.2.1': CT_IMAGE,
  '1.2.840.10008.5.1.4.1.1.2.2': CT_IMAGE,
};
const SINGLE_FRAME_CLASSES = new Set([MR_IMAGE, CT_IMAGE, SECONDARY_CAPTURE, '1.2.840.10008.5.1.4.1.1.128', '1.2.840.10008.5.1.4.1.1.20']);

/** Attributes that describe the source's pixel encoding or frames and would be wrong for the derived image. */
const DROPPED = new Set([
  'PixelData',
  'FloatPixelData',
  'DoubleFloatPixelData',
  'PerFrameFunctionalGroupsSequence',
  'SharedFunctionalGroupsSequence',
  'NumberOfFrames',
  'FrameIncrementPointer',
  'SmallestImagePixelValue',
  'LargestImagePixelValue',
  'SmallestPixelValueInSeries',
  'LargestPixelValueInSeries',
  'PixelPaddingValue',
  'PixelPaddingRangeLimit',
  'PlanarConfiguration',
  'WindowCenter',
  'WindowWidth',
  'WindowCenterWidthExplanation',
  'VOILUTFunction',
  'VOILUTSequence',
  'ModalityLUTSequence',
  'RedPaletteColorLookupTableDescriptor',
  'GreenPaletteColorLookupTableDescriptor',
  'BluePaletteColorLookupTableDescriptor',
  'RedPaletteColorLookupTableData',
  'GreenPaletteColorLookupTableData',
  'BluePaletteColorLookupTableData',
  'IconImageSequence',
  'DataSetTrailingPadding',
  'RescaleSlope',
  'RescaleIntercept',
  'RescaleType',
  'SourceImageSequence',
  'DerivationDescription',
  'DerivationCodeSequence',
]);

/** A decimal string (DS) of at most 16 characters. */
export function formatDS(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  for (let digits = 15; digits >= 1; digits--) {
    let s = value.toPrecision(digits);
    if (s.includes('e')) s = s.replace(/\.?0+e/, 'e');
    else if (s.includes('.')) s = s.replace(/\.?0+$/, '');
    if (s.length <= 16) return s;
  }
  return value.toExponential(6);
}

function dicomDate(d: Date): { date: string; time: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return { date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`, time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}` };
}

export interface DicomWriteOptions {
  /** SeriesDescription and DerivationDescription: what was done. */
  description?: string;
  /** Series UID of the derived series; by default one new UID per source series per process. */
  seriesInstanceUID?: string;
  seriesNumber?: number;
}

const derivedSeries = new Map<string, string>();

/**
 * How float values are stored as 16-bit integers, and the rescale (value = stored * slope + intercept) that maps
 * them back. PREFERRED (e.g. the source's own rescale) is kept when every value is on its grid and in range, so an
 * unmodified image round-trips exactly; otherwise integers are stored as they are when they fit, and anything else
 * is spread over 0..65535.
 */
export function chooseRescale(values: Float32Array, preferred?: { slope: number; intercept: number }): { signed: boolean; slope: number; intercept: number } {
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && !Number.isInteger(v)) integral = false;
  }
  if (!(min <= max)) return { signed: false, slope: 1, intercept: 0 };
  if (integral && min >= 0 && max <= 65535) return { signed: false, slope: 1, intercept: 0 };
  if (integral && min >= -32768 && max <= 32767) return { signed: true, slope: 1, intercept: 0 };
  if (preferred && Number.isFinite(preferred.slope) && preferred.slope !== 0 && (preferred.slope !== 1 || preferred.intercept !== 0)) {
    const slope = Number(formatDS(preferred.slope));
    const intercept = Number(formatDS(preferred.intercept));
    const lo = (min - intercept) / slope;
    const hi = (max - intercept) / slope;
    const [qmin, qmax] = lo < hi ? [lo, hi] : [hi, lo];
    const signed = qmin < -0.5;
    const fits = signed ? qmin >= -32768.5 && qmax <= 32767.5 : qmax <= 65535.5;
    let onGrid = fits && slope > 0;
    for (let i = 0; onGrid && i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      const q = Math.round((v - intercept) / slope);
      if (Math.fround(q * slope + intercept) !== v) onGrid = false;
    }
    if (onGrid) return { signed, slope, intercept };
  }
  if (integral && max - min <= 65535) return { signed: false, slope: 1, intercept: Number(formatDS(min)) };
  const slope = max > min ? Number(formatDS((max - min) / 65535)) : 1;
  // The stored maximum must fit after the slope was rounded to 16 characters.
  const intercept = Number(formatDS(min));
  const adjusted = (max - intercept) / slope > 65535 ? Number(formatDS(((max - intercept) / 65535) * (1 + 1e-12))) : slope;
  return { signed: false, slope: adjusted, intercept };
}

/** Encode a derived DICOM object. VALUES are the image's samples in source units (window already undone). */
export function encodeDicom(image: RawImage, values: Float32Array, options: DicomWriteOptions = {}): Uint8Array {
  const { width, height } = image;
  const colour = image.channels >= 3;
  const source = image.meta.dicom?.dataset;
  const now = dicomDate(new Date());
  const ds: Dataset = {};
  if (source) {
    for (const [key, value] of Object.entries(source)) {
      if (DROPPED.has(key) || key === '_meta') continue;
      if (/^[0-9A-Fa-f]{8}$/.test(key) && parseInt(key.slice(0, 4), 16) % 2 === 1) continue; // private tags
      ds[key] = deepCopy(value);
    }
  }
  const vrMap = { ...((ds['_vrMap'] as Record<string, string> | undefined) ?? {}), PixelData: colour ? 'OB' : 'OW' };
  ds['_vrMap'] = vrMap;

  const sourceClass = image.meta.dicom?.sopClassUID;
  let sopClassUID = SECONDARY_CAPTURE;
  if (sourceClass && SINGLE_FRAME_CLASSES.has(sourceClass)) sopClassUID = sourceClass;
  else if (sourceClass && CLASSIC_OF[sourceClass]) sopClassUID = CLASSIC_OF[sourceClass]!;
  if (colour && sopClassUID !== SECONDARY_CAPTURE) sopClassUID = SECONDARY_CAPTURE;
  const sopInstanceUID = newUid();
  const sourceSeries = str(source?.['SeriesInstanceUID']) ?? image.meta.source;
  let seriesInstanceUID = options.seriesInstanceUID;
  if (!seriesInstanceUID) {
    const key = `${sourceSeries}\u0000${options.description ?? ''}`;
    seriesInstanceUID = derivedSeries.get(key) ?? newUid();
    derivedSeries.set(key, seriesInstanceUID);
  }
  const description = (options.description ?? 'unet-dream derived image').slice(0, 64);

  if (!source) {
    Object.assign(ds, {
      PatientName: '',
      PatientID: '',
      PatientBirthDate: '',
      PatientSex: '',
      StudyInstanceUID: newUid(),
      StudyDate: now.date,
      StudyTime: now.time,
      StudyID: '',
      AccessionNumber: '',
      ReferringPhysicianName: '',
      Modality: image.meta.format === 'nifti' ? 'MR' : 'OT',
      ConversionType: 'WSD',
      InstanceNumber: image.meta.sliceIndex + 1,
    });
  }
  const sourceType = Array.isArray(source?.['ImageType']) ? (source['ImageType'] as string[]) : [];
  const multiFrame = (image.meta.dicom?.dataset['NumberOfFrames'] ?? undefined) !== undefined && image.meta.sliceCount > 1;
  Object.assign(ds, {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: sopClassUID,
    SOPInstanceUID: sopInstanceUID,
    SeriesInstanceUID: seriesInstanceUID,
    SeriesNumber: options.seriesNumber ?? (num(source?.['SeriesNumber']) ?? 0) + 1000,
    SeriesDescription: description,
    DerivationDescription: description,
    ImageType: ['DERIVED', 'SECONDARY', ...(multiFrame ? [] : sourceType.slice(2))],
    InstanceCreationDate: now.date,
    InstanceCreationTime: now.time,
    ContentDate: now.date,
    ContentTime: now.time,
    Rows: height,
    Columns: width,
  });
  if (multiFrame) ds['InstanceNumber'] = image.meta.sliceIndex + 1;
  if (sopClassUID === SECONDARY_CAPTURE && ds['ConversionType'] === undefined) ds['ConversionType'] = 'WSD';
  if (image.meta.dicom?.sopInstanceUID && sourceClass) {
    const ref: Dataset = { ReferencedSOPClassUID: sourceClass, ReferencedSOPInstanceUID: image.meta.dicom.sopInstanceUID };
    if (image.meta.sliceCount > 1) ref['ReferencedFrameNumber'] = image.meta.sliceIndex + 1;
    ds['SourceImageSequence'] = [ref];
  }

  // Geometry: the image's own, scaled when the image was resized since it was read.
  const geometry = image.meta.geometry;
  if (geometry) {
    const affine = geometry.affine.map((row) => row.slice());
    const sourceRows = num(source?.['Rows']);
    const sourceColumns = num(source?.['Columns']);
    if (sourceRows && sourceColumns && (sourceRows !== height || sourceColumns !== width)) {
      for (let i = 0; i < 3; i++) {
        affine[i]![0]! *= sourceColumns / width;
        affine[i]![1]! *= sourceRows / height;
      }
    }
    const g = affineToDicom(affine);
    ds['ImagePositionPatient'] = g.ipp.map(formatDS);
    ds['ImageOrientationPatient'] = g.iop.map(formatDS);
    ds['PixelSpacing'] = g.pixelSpacing.map(formatDS);
    if (ds['SliceThickness'] === undefined) ds['SliceThickness'] = formatDS(g.sliceSpacing);
  } else {
    delete ds['ImagePositionPatient'];
    delete ds['ImageOrientationPatient'];
    const spacing = nums(ds['PixelSpacing'], 2);
    const sourceRows = num(source?.['Rows']);
    const sourceColumns = num(source?.['Columns']);
    if (spacing && sourceRows && sourceColumns && (sourceRows !== height || sourceColumns !== width)) {
      ds['PixelSpacing'] = [formatDS((spacing[0]! * sourceRows) / height), formatDS((spacing[1]! * sourceColumns) / width)];
    }
  }

  let pixelBytes: Uint8Array;
  if (colour) {
    const n = width * height;
    pixelBytes = new Uint8Array(n * 3 + ((n * 3) % 2));
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) pixelBytes[p * 3 + c] = clamp255(values[p * image.channels + c]!);
    Object.assign(ds, { SamplesPerPixel: 3, PhotometricInterpretation: 'RGB', PlanarConfiguration: 0, BitsAllocated: 8, BitsStored: 8, HighBit: 7, PixelRepresentation: 0 });
  } else {
    const grey = image.channels === 1 ? values : Float32Array.from({ length: width * height }, (_, p) => values[p * image.channels]!);
    const sourceRescale = image.meta.dicom ? { slope: image.meta.dicom.rescaleSlope, intercept: image.meta.dicom.rescaleIntercept } : undefined;
    const { signed, slope, intercept } = chooseRescale(grey, sourceRescale);
    const stored = signed ? new Int16Array(grey.length) : new Uint16Array(grey.length);
    const [lo, hi] = signed ? [-32768, 32767] : [0, 65535];
    for (let i = 0; i < grey.length; i++) {
      const v = Math.round((grey[i]! - intercept) / slope);
      stored[i] = Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0;
    }
    pixelBytes = new Uint8Array(stored.buffer);
    const range = valueRange(grey);
    const window = image.meta.window;
    const center = window ? (window.low + window.high) / 2 : (range.min + range.max) / 2;
    const widthW = window ? window.high - window.low : range.max - range.min;
    Object.assign(ds, {
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: signed ? 1 : 0,
      RescaleSlope: formatDS(slope),
      RescaleIntercept: formatDS(intercept),
      WindowCenter: formatDS(center),
      WindowWidth: formatDS(Math.max(1, widthW)),
    });
  }
  ds['PixelData'] = [pixelBytes.buffer.slice(pixelBytes.byteOffset, pixelBytes.byteOffset + pixelBytes.byteLength)];

  const fileMeta: Dataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUID,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  return quietly(() => {
    const { DicomDict, DicomMetaDictionary } = dcmjs().data;
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(fileMeta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    return new Uint8Array(dict.write());
  });
}
