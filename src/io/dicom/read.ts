/**
 * Reading DICOM: dcmjs parses the dataset; the pixel data is decoded here (native, RLE) and in codecs.ts (JPEG 2000,
 * JPEG-LS, JPEG).
 *
 * Uncompressed Implicit/Explicit VR Little Endian, Explicit VR Big Endian and Deflated; RLE Lossless; JPEG 2000;
 * JPEG-LS; 8-bit JPEG. Multi-frame files give one image per frame. Stored values are masked to BitsStored and
 * sign-extended when PixelRepresentation is 1, MONOCHROME1 is inverted within the stored range (so bright means
 * high, as in MONOCHROME2), and RescaleSlope/Intercept (per frame for enhanced objects) are applied: the image holds
 * the modality's units.
 *
 * One read is a sequence of named steps: parse the file, find the pixel data, read the pixel layout, check the
 * declared sizes against the file and the input limits (before anything is allocated), split the pixel data into
 * frames, then decode each frame, turn its samples into values and wrap it as an image.
 */
import type { DicomMeta, RawImage, SampleType } from '../image.js';
import { deepCopy, resolveSlice, valueRange } from '../image.js';
import { DEFAULT_LIMITS, checkBytes, checkPixels, type InputLimits } from '../limits.js';
import { decodeJpeg2000, decodeJpegBaseline, decodeJpegLs, decodeRle, type DecodedFrame } from './codecs.js';
import { frameInfo, num, str, toBytes, type FrameInfo } from './dataset.js';
import { dcmjs, quietly, type Dataset, type DicomDictInstance } from './dcmjs.js';
import { clamp255, framesFromFragments, nativeSamples, storedValue } from './pixels.js';
import { scanFile, type Scan } from './scan.js';
import { CODECS, EXPLICIT_BE, transferSyntaxName, type Codec } from './syntax.js';

export interface DicomReadOptions {
  /** Read only this frame (0-based), or the middle one. */
  slice?: number | 'middle';
  /** Input limits (default DEFAULT_LIMITS). */
  limits?: InputLimits;
}

function fail(reason: string): never {
  throw new Error(reason);
}

/** The parsed file: dcmjs's datasets (naturalised), the transfer syntax, and the independent scan. */
interface ParsedFile {
  scan: Scan;
  meta: Dataset;
  ds: Dataset;
  transferSyntaxUID: string;
}

/** How the pixel data is laid out, from the Image Pixel module. */
interface PixelLayout {
  codec: Codec;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  photometric: string;
  planar: number;
  frames: number;
}

const STRING_NUMBER_VRS = new Set(['DS']);

/**
 * dcmjs parses decimal strings (DS) into numbers; keep the file's own strings instead, so a value the
 * writer copies comes out exactly as it went in (`0.195313` stays `0.195313`).
 */
function keepNumberStrings(dict: Dataset, depth = 0): void {
  if (depth > 32) return;
  for (const element of Object.values(dict)) {
    const e = element as { vr?: string; Value?: unknown[]; _rawValue?: unknown };
    if (!e || typeof e !== 'object') continue;
    if (e.vr && STRING_NUMBER_VRS.has(e.vr) && Array.isArray(e._rawValue) && Array.isArray(e.Value) && e._rawValue.length === e.Value.length) {
      const raw = e._rawValue.map((v) => (typeof v === 'string' ? v.trim() : v));
      if (raw.every((v, i) => typeof v === 'string' && v !== '' && Number(v) === Number(e.Value![i]))) e.Value = raw;
    } else if (e.vr === 'SQ' && Array.isArray(e.Value)) {
      for (const item of e.Value) if (item && typeof item === 'object') keepNumberStrings(item as Dataset, depth + 1);
    }
  }
}

/** Step 1: parse the file with dcmjs, and scan it independently for truncation. */
function parseFile(bytes: Uint8Array): ParsedFile {
  const scan = scanFile(bytes);
  let parsed: DicomDictInstance;
  try {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const buffer = (whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer;
    parsed = quietly(() => dcmjs().data.DicomMessage.readFile(buffer));
  } catch (err) {
    fail(scan.truncated ?? `not a valid DICOM file: ${String((err as Error).message ?? err).split('\n')[0]}`);
  }
  const { naturalizeDataset } = dcmjs().data.DicomMetaDictionary;
  keepNumberStrings(parsed.dict);
  const meta = quietly(() => naturalizeDataset(parsed.meta));
  const ds = quietly(() => naturalizeDataset(parsed.dict));
  if (scan.truncated) fail(scan.truncated);
  const transferSyntaxUID = str(meta['TransferSyntaxUID']) ?? scan.transferSyntaxUID ?? fail('no TransferSyntaxUID in the file meta information');
  return { scan, meta, ds, transferSyntaxUID };
}

/** Step 2: the file must hold integer pixel data in a transfer syntax we decode. */
function requirePixelData({ ds, meta, scan, transferSyntaxUID }: ParsedFile): Codec {
  if (ds['PixelData'] === undefined) {
    if (ds['FloatPixelData'] !== undefined || ds['DoubleFloatPixelData'] !== undefined) fail('float pixel data (7FE0,0008/0009) is not supported');
    // dcmjs drops an encapsulated Pixel Data element it cannot finish; the scan saw it start.
    if (scan.pixelData) fail('the file is truncated inside its Pixel Data');
    // An image's header without the pixels: the file was cut between two elements, before its Pixel Data.
    const rows = num(ds['Rows']);
    const columns = num(ds['Columns']);
    if (rows !== undefined && columns !== undefined) fail(`the file is truncated: it declares a ${columns}x${rows} image but holds no Pixel Data`);
    const sopClassUID = str(ds['SOPClassUID']) ?? str(meta['MediaStorageSOPClassUID']);
    const names = dcmjs().data.DicomMetaDictionary.sopClassNamesByUID;
    // An image storage class (MR Image, Enhanced CT Image, ...) always has pixels: this one was cut short.
    if (sopClassUID && /Image(Storage)?$/i.test(names[sopClassUID] ?? '')) fail(`the file is truncated: an ${names[sopClassUID]} object without Pixel Data`);
    const kind = sopClassUID ? ` (SOP class ${sopClassUID}${names[sopClassUID] ? `, ${names[sopClassUID]}` : ''})` : '';
    fail(`no pixel data: not an image${kind}`);
  }
  return CODECS[transferSyntaxUID] ?? fail(`unsupported transfer syntax ${transferSyntaxUID} (${transferSyntaxName(transferSyntaxUID)})`);
}

/** Step 3: the Image Pixel module, checked for what this reader supports. */
function pixelLayout(ds: Dataset, codec: Codec): PixelLayout {
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
  const declaredFrames = num(ds['NumberOfFrames']) ?? 1;
  if (!(Number.isInteger(declaredFrames) && declaredFrames >= 0)) fail(`invalid NumberOfFrames ${declaredFrames}`);
  const frames = Math.max(1, declaredFrames);
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
  return { codec, rows, columns, samplesPerPixel, bitsAllocated, bitsStored, highBit, signed, photometric, planar, frames };
}

/**
 * Step 4: the sizes the header declares against the file's length and the input limits, before any allocation:
 * a header declaring 2^31 frames in an 8 KB file is refused here.
 */
function checkDeclaredSizes(layout: PixelLayout, scan: Scan, fileLength: number, limits: InputLimits): void {
  const { rows, columns, samplesPerPixel, bitsAllocated, frames, codec } = layout;
  checkPixels(columns, rows, limits, 'a frame');
  const frameBytes = rows * columns * samplesPerPixel * (bitsAllocated / 8);
  if (codec === 'native') {
    const expected = frameBytes * frames;
    const present = scan.pixelData ? Math.min(scan.pixelData.length, fileLength - scan.pixelData.valueOffset) : fileLength;
    if (present < expected) {
      fail(`pixel data holds ${present} bytes, expected ${expected} (${columns}x${rows}, ${samplesPerPixel} sample(s), ${frames} frame(s), ${bitsAllocated} bits)`);
    }
  } else if (frames > fileLength) {
    // Every encapsulated frame needs at least an item header in the file.
    fail(`NumberOfFrames ${frames} is impossible in a file of ${fileLength} bytes`);
  }
  checkBytes(frameBytes * frames, limits, `the pixel data (${frames} frame(s) of ${columns}x${rows}) decodes to`);
}

/** Step 5: the pixel data as one native byte run, or as one encoded byte run per frame. */
function pixelFrames(ds: Dataset, layout: PixelLayout): { native?: Uint8Array; encoded?: Uint8Array[] } {
  const pixelData = ds['PixelData'] as unknown[];
  if (layout.codec === 'native') return { native: toBytes(Array.isArray(pixelData) ? pixelData[0] : pixelData) ?? fail('pixel data is empty') };
  const fragments = (Array.isArray(pixelData) ? pixelData : [pixelData]).map(toBytes).filter((f): f is Uint8Array => f !== undefined && f.length > 0);
  if (fragments.length === 0) fail('encapsulated pixel data holds no fragments');
  return { encoded: framesFromFragments(fragments, layout.frames, layout.codec) };
}

/** Step 6: one frame's samples (unsigned container words for native and RLE, codec samples otherwise). */
async function decodeFrame(
  f: number,
  layout: PixelLayout,
  data: { native?: Uint8Array; encoded?: Uint8Array[] },
  transferSyntaxUID: string,
): Promise<{ samples: Float64Array | Int32Array; photometric: string }> {
  const { codec, rows, columns, samplesPerPixel, bitsAllocated, bitsStored, highBit, planar } = layout;
  const pixelsPerFrame = rows * columns;
  const samplesPerFrame = pixelsPerFrame * samplesPerPixel;
  if (codec === 'native' || codec === 'rle') {
    let frameBytes: Uint8Array;
    let little = transferSyntaxUID !== EXPLICIT_BE;
    if (codec === 'native') {
      const size = samplesPerFrame * (bitsAllocated / 8);
      frameBytes = data.native!.subarray(f * size, (f + 1) * size);
    } else {
      frameBytes = decodeRle(data.encoded![f]!, rows, columns, samplesPerPixel, bitsAllocated);
      little = true;
    }
    let samples = nativeSamples(frameBytes, bitsAllocated, little, samplesPerFrame);
    const shift = highBit + 1 - bitsStored;
    if (shift > 0) for (let i = 0; i < samples.length; i++) samples[i] = Math.floor(samples[i]! / 2 ** shift);
    if (samplesPerPixel === 3 && planar === 1 && codec === 'native') {
      const planes = samples;
      samples = new Float64Array(samplesPerFrame);
      for (let c = 0; c < 3; c++) for (let p = 0; p < pixelsPerFrame; p++) samples[p * 3 + c] = planes[c * pixelsPerFrame + p]!;
    }
    return { samples, photometric: layout.photometric };
  }
  const encoded = data.encoded![f]!;
  let decoded: DecodedFrame;
  try {
    decoded = codec === 'jpeg2000' ? await decodeJpeg2000(encoded) : codec === 'jpegls' ? await decodeJpegLs(encoded) : await decodeJpegBaseline(encoded, samplesPerPixel);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`frame ${f + 1}: ${message.split('\n')[0]}`);
  }
  if (decoded.width !== columns || decoded.height !== rows) fail(`frame ${f + 1} decodes to ${decoded.width}x${decoded.height}, but the header says ${columns}x${rows}`);
  if (decoded.components !== samplesPerPixel) fail(`frame ${f + 1} decodes to ${decoded.components} component(s), but SamplesPerPixel is ${samplesPerPixel}`);
  if (decoded.samples.length < samplesPerFrame) fail(`frame ${f + 1} is truncated: it decodes to ${decoded.samples.length} of ${samplesPerFrame} samples`);
  // The codec already converted colour to RGB.
  const photometric = samplesPerPixel === 3 && (codec === 'jpeg' || codec === 'jpeg2000') ? 'RGB' : layout.photometric;
  return { samples: decoded.samples, photometric };
}

/** Step 7: stored values (masked, sign-extended, MONOCHROME1 inverted) through the modality rescale. */
function frameValues(samples: Float64Array | Int32Array, layout: PixelLayout, photometricOut: string, info: FrameInfo): Float32Array {
  const { samplesPerPixel, bitsStored, signed, photometric } = layout;
  const n = layout.rows * layout.columns * samplesPerPixel;
  const out = new Float32Array(n);
  const monochrome = samplesPerPixel === 1;
  const invert = photometric === 'MONOCHROME1';
  const lo = signed ? -(2 ** (bitsStored - 1)) : 0;
  const hi = signed ? 2 ** (bitsStored - 1) - 1 : 2 ** bitsStored - 1;
  const slope = monochrome ? info.slope : 1;
  const intercept = monochrome ? info.intercept : 0;
  const m = 2 ** bitsStored;
  const mask = m - 1;
  const half = m / 2;
  for (let i = 0; i < n; i++) {
    let v: number;
    if (bitsStored <= 30) {
      v = samples[i]! & mask; // two's complement bits of a possibly negative codec sample
      if (signed && v >= half) v -= m;
    } else v = storedValue(samples[i]!, bitsStored, signed);
    if (invert) v = lo + hi - v;
    out[i] = v * slope + intercept;
  }
  if (!monochrome && photometricOut === 'YBR_FULL') {
    for (let p = 0; p < n; p += 3) {
      const y = out[p]!;
      const cb = out[p + 1]! - 128;
      const cr = out[p + 2]! - 128;
      out[p] = clamp255(y + 1.402 * cr);
      out[p + 1] = clamp255(y - 0.344136 * cb - 0.714136 * cr);
      out[p + 2] = clamp255(y + 1.772 * cb);
    }
  }
  return out;
}

/** The dataset kept with frame F: everything but the pixel data and other frames' functional groups. */
function datasetForFrame(ds: Dataset, frame: number): Dataset {
  const copy: Dataset = {};
  for (const [key, value] of Object.entries(ds)) {
    if (key === 'PixelData') continue;
    if (key === 'PerFrameFunctionalGroupsSequence' && Array.isArray(value)) copy[key] = deepCopy([value[frame]]);
    else copy[key] = deepCopy(value);
  }
  return copy;
}

/** Step 8: the frame as an image, with what a writer needs to make a derived object of it. */
function frameImage(values: Float32Array, f: number, layout: PixelLayout, parsed: ParsedFile, info: FrameInfo, source: string): RawImage {
  const { ds, meta, transferSyntaxUID } = parsed;
  const { bitsAllocated, bitsStored, signed, samplesPerPixel, photometric, frames } = layout;
  const monochrome = samplesPerPixel === 1;
  const dtype: SampleType = bitsAllocated === 8 ? (signed ? 'int8' : 'uint8') : bitsAllocated === 16 ? (signed ? 'int16' : 'uint16') : signed ? 'int32' : 'uint32';
  const dicomMeta: DicomMeta = {
    dataset: datasetForFrame(ds, f),
    transferSyntaxUID,
    frame: f,
    rescaleSlope: monochrome ? info.slope : 1,
    rescaleIntercept: monochrome ? info.intercept : 0,
    photometricInterpretation: photometric,
    inverted: photometric === 'MONOCHROME1',
    bitsAllocated,
    bitsStored,
    signed,
  };
  if (Object.keys(info.attributes).length > 0) dicomMeta.frameAttributes = deepCopy(info.attributes);
  const sopClassUID = str(ds['SOPClassUID']) ?? str(meta['MediaStorageSOPClassUID']);
  if (sopClassUID) dicomMeta.sopClassUID = sopClassUID;
  const sop = str(ds['SOPInstanceUID']);
  if (sop) dicomMeta.sopInstanceUID = sop;
  return {
    data: values,
    width: layout.columns,
    height: layout.rows,
    channels: samplesPerPixel,
    meta: {
      format: 'dicom',
      source,
      dtype,
      bitDepth: bitsStored,
      range: valueRange(values, samplesPerPixel),
      hasAlpha: false,
      sliceIndex: f,
      sliceCount: frames,
      ...(info.geometry ? { geometry: info.geometry } : {}),
      dicom: dicomMeta,
    },
  };
}

/** Read a DICOM file's frames. Errors are plain Errors with a one-line reason; the caller names the file. */
export async function readDicom(bytes: Uint8Array, source: string, options: DicomReadOptions = {}): Promise<RawImage[]> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const parsed = parseFile(bytes);
  const codec = requirePixelData(parsed);
  const layout = pixelLayout(parsed.ds, codec);
  checkDeclaredSizes(layout, parsed.scan, bytes.length, limits);
  const wanted = options.slice === undefined ? Array.from({ length: layout.frames }, (_, i) => i) : [resolveSlice(options.slice, layout.frames, 'frame')];
  const data = pixelFrames(parsed.ds, layout);
  const images: RawImage[] = [];
  for (const f of wanted) {
    const { samples, photometric } = await decodeFrame(f, layout, data, parsed.transferSyntaxUID);
    const info = frameInfo(parsed.ds, f);
    images.push(frameImage(frameValues(samples, layout, photometric, info), f, layout, parsed, info, source));
  }
  return images;
}
