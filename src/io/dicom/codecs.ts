/**
 * Decoders for encapsulated DICOM pixel data: RLE Lossless (our own, PS3.5 Annex G), JPEG 2000 (OpenJPEG) and
 * JPEG-LS (CharLS) through the Cornerstone WebAssembly builds, and 8-bit JPEG through sharp.
 *
 * Every decoder returns integer sample values, interleaved by pixel, with the signedness its codestream declares;
 * the DICOM reader then applies BitsStored and PixelRepresentation.
 */
import { createRequire } from 'node:module';
import sharp from 'sharp';

export interface DecodedFrame {
  width: number;
  height: number;
  components: number;
  /** Integer samples, interleaved by pixel. */
  samples: Int32Array;
}

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header (segment count, then 15 segment offsets, little-endian), then one
 * PackBits-coded segment per byte plane, most significant byte first, one set per sample. The result is the frame
 * as native little-endian bytes, pixel-interleaved.
 */
export function decodeRle(frame: Uint8Array, rows: number, columns: number, samplesPerPixel: number, bitsAllocated: number): Uint8Array {
  if (frame.length < 64) throw new Error(`RLE frame is only ${frame.length} bytes, shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = bitsAllocated / 8;
  const expected = samplesPerPixel * bytesPerSample;
  if (segments !== expected) {
    throw new Error(`RLE frame has ${segments} segments, expected ${expected} (${samplesPerPixel} sample(s) x ${bytesPerSample} byte(s))`);
  }
  const pixels = rows * columns;
  const out = new Uint8Array(pixels * expected);
  const plane = new Uint8Array(pixels);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + s * 4, true);
    const end = s + 1 < segments ? view.getUint32(8 + s * 4, true) : frame.length;
    if (start < 64 || start > frame.length || end > frame.length || end < start) {
      throw new Error(`RLE segment ${s + 1} has offsets ${start}..${end} outside the ${frame.length}-byte frame`);
    }
    const filled = unpackBits(frame, start, end, plane);
    if (filled < pixels) throw new Error(`RLE segment ${s + 1} decodes to ${filled} bytes, expected ${pixels} (corrupt or truncated data)`);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segments go MSB first; output is little-endian
    for (let p = 0, o = sample * bytesPerSample + byteInSample; p < pixels; p++, o += expected) out[o] = plane[p]!;
  }
  return out;
}

/** PackBits: n in 0..127 copies n+1 literal bytes; n in -127..-1 repeats the next byte 1-n times; -128 is a no-op. */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let i = start;
  let o = 0;
  const limit = out.length;
  while (i < end && o < limit) {
    const header = src[i++]!;
    const n = header > 127 ? header - 256 : header;
    if (n >= 0) {
      const count = Math.min(n + 1, end - i, limit - o);
      out.set(src.subarray(i, i + count), o);
      i += n + 1;
      o += count;
    } else if (n > -128) {
      if (i >= end) break;
      const value = src[i++]!;
      const count = Math.min(1 - n, limit - o);
      out.fill(value, o, o + count);
      o += count;
    }
  }
  return o;
}

interface EmscriptenModule {
  [name: string]: unknown;
}
interface J2KDecoderInstance {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
interface JpegLSDecoderInstance {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  getInterleaveMode(): number;
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}

const require = createRequire(import.meta.url);
const silent = { print: () => undefined, printErr: () => undefined };
let openjpeg: Promise<EmscriptenModule> | undefined;
let charls: Promise<EmscriptenModule> | undefined;

function loadModule(specifier: string): Promise<EmscriptenModule> {
  const factory = require(specifier) as (options: object) => Promise<EmscriptenModule>;
  return factory({ ...silent });
}

/** An emscripten failure is often a bare number (a C++ exception pointer): turn it into a message. */
function codecError(codec: string, err: unknown): Error {
  if (err instanceof Error) return new Error(`${codec} decoder failed: ${err.message.split('\n')[0]}`);
  return new Error(`${codec} decoder failed (corrupt or unsupported codestream)`);
}

/** Strip a JP2 file wrapper, which some writers put in DICOM, down to its 'jp2c' codestream box. */
function j2kCodestream(bytes: Uint8Array): Uint8Array {
  const jp2 = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20];
  if (!jp2.every((b, i) => bytes[i] === b)) return bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 8 <= bytes.length) {
    let length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    let header = 8;
    if (length === 1 && at + 16 <= bytes.length) {
      length = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (length === 0) length = bytes.length - at;
    if (type === 'jp2c') return bytes.subarray(at + header, at + length);
    if (length < header) break;
    at += length;
  }
  throw new Error("JPEG 2000 file wrapper has no 'jp2c' codestream box");
}

function samplesFrom(bytes: Uint8Array, bitsPerSample: number, signed: boolean, count: number): Int32Array {
  const copy = bytes.slice(); // out of the wasm heap, aligned
  if (bitsPerSample <= 8) return Int32Array.from(signed ? new Int8Array(copy.buffer, 0, count) : copy.subarray(0, count));
  if (bitsPerSample <= 16) return Int32Array.from(signed ? new Int16Array(copy.buffer, 0, count) : new Uint16Array(copy.buffer, 0, count));
  return signed ? new Int32Array(copy.buffer, 0, count) : Int32Array.from(new Uint32Array(copy.buffer, 0, count));
}

export async function decodeJpeg2000(encoded: Uint8Array): Promise<DecodedFrame> {
  openjpeg ??= loadModule('@cornerstonejs/codec-openjpeg/decodewasmjs');
  let module: EmscriptenModule;
  try {
    module = await openjpeg;
  } catch (err) {
    openjpeg = undefined;
    throw new Error(`JPEG 2000 decoder (@cornerstonejs/codec-openjpeg) did not load: ${(err as Error).message}`);
  }
  const codestream = j2kCodestream(encoded);
  const Decoder = module['J2KDecoder'] as new () => J2KDecoderInstance;
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(codestream.length).set(codestream);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.width <= 0 || info.height <= 0 || info.componentCount <= 0) throw new Error('no image in the codestream');
    const count = info.width * info.height * info.componentCount;
    const samples = samplesFrom(decoder.getDecodedBuffer(), info.bitsPerSample, info.isSigned, count);
    return { width: info.width, height: info.height, components: info.componentCount, samples };
  } catch (err) {
    if (!(err instanceof Error) || !/no image/.test(err.message)) openjpeg = undefined; // an abort may poison the module
    throw codecError('JPEG 2000', err);
  } finally {
    try {
      decoder.delete();
    } catch {
      // the module aborted: nothing left to free
    }
  }
}

export async function decodeJpegLs(encoded: Uint8Array): Promise<DecodedFrame> {
  charls ??= loadModule('@cornerstonejs/codec-charls/decodewasmjs');
  let module: EmscriptenModule;
  try {
    module = await charls;
  } catch (err) {
    charls = undefined;
    throw new Error(`JPEG-LS decoder (@cornerstonejs/codec-charls) did not load: ${(err as Error).message}`);
  }
  const Decoder = module['JpegLSDecoder'] as new () => JpegLSDecoderInstance;
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const count = info.width * info.height * info.componentCount;
    let samples = samplesFrom(decoder.getDecodedBuffer(), info.bitsPerSample, false, count);
    if (info.componentCount > 1 && decoder.getInterleaveMode() === 0) {
      // Interleave mode 'none' comes out plane by plane.
      const planar = samples;
      const pixels = info.width * info.height;
      samples = new Int32Array(count);
      for (let c = 0; c < info.componentCount; c++) for (let p = 0; p < pixels; p++) samples[p * info.componentCount + c] = planar[c * pixels + p]!;
    }
    return { width: info.width, height: info.height, components: info.componentCount, samples };
  } catch (err) {
    charls = undefined;
    throw codecError('JPEG-LS', err);
  } finally {
    try {
      decoder.delete();
    } catch {
      // the module aborted: nothing left to free
    }
  }
}

/** 8-bit JPEG (baseline and 8-bit extended) through sharp: grey when COMPONENTS is 1, else RGB. */
export async function decodeJpegBaseline(encoded: Uint8Array, components: number): Promise<DecodedFrame> {
  try {
    const grey = components === 1;
    const { data, info } = await sharp(encoded)
      .toColourspace(grey ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, components: info.channels, samples: Int32Array.from(data) };
  } catch (err) {
    throw new Error(`JPEG decoder failed: ${(err as Error).message.split('\n')[0]} (12-bit and lossless JPEG are not supported)`);
  }
}
