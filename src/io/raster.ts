/**
 * Photos and other raster files: PNG, JPEG, TIFF and WebP read through sharp (EXIF orientation applied, 16-bit
 * and float kept, alpha kept as a channel, TIFF pages as slices); PNG written through sharp; TIFF written by a
 * small encoder of our own, because sharp's TIFF output always converts float data to 8-bit sRGB.
 */
import { deflateSync } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import type { ImageFormat, RawImage, SampleType } from './image.js';
import { resolveSlice, valueRange } from './image.js';
import { DEFAULT_LIMITS, checkBytes, checkPixels, type InputLimits } from './limits.js';

export type RasterFormat = Extract<ImageFormat, 'png' | 'jpeg' | 'tiff' | 'webp'>;

export interface RasterReadOptions {
  /** Read only this page (0-based), or the middle one. */
  slice?: number | 'middle';
  /** Input limits (default DEFAULT_LIMITS). */
  limits?: InputLimits;
}

type RawDepth = 'uchar' | 'ushort' | 'float';

function toFloat32(buffer: Buffer, depth: RawDepth): Float32Array {
  if (depth === 'uchar') return Float32Array.from(buffer);
  // sharp's buffers may sit at any offset in a shared pool: copy to an aligned buffer before viewing.
  const aligned = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
  return depth === 'ushort' ? Float32Array.from(new Uint16Array(aligned)) : new Float32Array(aligned);
}

type PageOptions = { page?: number; pages?: number };

interface Decoded {
  pixels: Float32Array;
  width: number;
  height: number;
  channels: number;
  dtype: SampleType;
  bitDepth: number;
  orientation?: number;
}

/** Decode what PAGEOPTIONS select (one page, or every page stacked vertically) as float samples in source units. */
async function decodePages(bytes: Uint8Array, pageOptions: PageOptions, meta: Metadata): Promise<Decoded> {
  const grey = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels !== undefined && meta.channels <= 2 && meta.space !== 'cmyk');
  let depth: RawDepth;
  let dtype: SampleType;
  let bitDepth: number;
  let colourspace: string;
  switch (meta.depth) {
    case 'uchar':
      depth = 'uchar';
      dtype = 'uint8';
      bitDepth = 8;
      colourspace = grey ? 'b-w' : 'srgb';
      break;
    case 'ushort':
      depth = 'ushort';
      dtype = 'uint16';
      bitDepth = 16;
      colourspace = grey ? 'grey16' : 'rgb16';
      break;
    default:
      depth = 'float';
      dtype = meta.depth === 'double' ? 'float64' : 'float32';
      bitDepth = meta.depth === 'double' ? 64 : 32;
      colourspace = grey ? 'b-w' : meta.space === 'scrgb' ? 'scrgb' : 'srgb';
  }
  // libvips' 8-bit and float 'b-w' output drops alpha: read grey+alpha as colour (grey, grey, grey, alpha) and
  // keep channels 0 and 3.
  const greyAlpha = grey && meta.hasAlpha === true && depth !== 'ushort';
  if (greyAlpha) colourspace = 'srgb';
  const pipeline = sharp(bytes, { ...pageOptions, autoOrient: true, limitInputPixels: false }).toColourspace(colourspace);
  const { data, info } = await pipeline.raw(depth === 'uchar' ? {} : { depth }).toBuffer({ resolveWithObject: true });
  let pixels = toFloat32(data, depth);
  let channels: number = info.channels;
  if (greyAlpha && channels === 4) {
    const n = info.width * info.height;
    const two = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      two[i * 2] = pixels[i * 4]!;
      two[i * 2 + 1] = pixels[i * 4 + 3]!;
    }
    pixels = two;
    channels = 2;
  }
  return { pixels, width: info.width, height: info.height, channels, dtype, bitDepth, ...(meta.orientation !== undefined ? { orientation: meta.orientation } : {}) };
}

function pageImage(d: Decoded, pixels: Float32Array, height: number, format: RasterFormat, page: number, pageCount: number, source: string): RawImage {
  const hasAlpha = d.channels === 2 || d.channels === 4;
  return {
    data: pixels,
    width: d.width,
    height,
    channels: d.channels,
    meta: {
      format,
      source,
      dtype: d.dtype,
      bitDepth: d.bitDepth,
      range: valueRange(pixels, d.channels, hasAlpha),
      hasAlpha,
      sliceIndex: page,
      sliceCount: pageCount,
      ...(d.orientation !== undefined ? { orientation: d.orientation } : {}),
    },
  };
}

const SAMPLE_BYTES: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8, dpcomplex: 16 };

/** Refuse, from the header alone, an image larger than the input limits. */
function checkDeclared(meta: Metadata, pages: number, limits: InputLimits): void {
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  checkPixels(width, height, limits, pages > 1 ? 'a page' : 'an image');
  const bytes = width * height * (meta.channels ?? 1) * (SAMPLE_BYTES[meta.depth ?? 'uchar'] ?? 4) * pages;
  checkBytes(bytes, limits, pages > 1 ? `its ${pages} pages decode to` : 'it decodes to');
}

export async function readRaster(bytes: Uint8Array, format: RasterFormat, source: string, options: RasterReadOptions = {}): Promise<RawImage[]> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const first = await sharp(bytes, { limitInputPixels: false }).metadata();
  const pages = format === 'tiff' ? Math.max(1, first.pages ?? 1) : 1;
  if (options.slice !== undefined || pages === 1) {
    const page = options.slice === undefined ? 0 : resolveSlice(options.slice, pages);
    const pageOptions = format === 'tiff' ? { page } : {};
    const meta = page === 0 ? first : await sharp(bytes, { ...pageOptions, limitInputPixels: false }).metadata();
    checkDeclared(meta, 1, limits);
    const d = await decodePages(bytes, pageOptions, meta);
    return [pageImage(d, d.pixels, d.height, format, page, pages, source)];
  }
  // Every page. Pages of one size and type are decoded in one pass (libvips stacks them vertically) and split:
  // opening page p alone walks the p directories before it, so page by page is quadratic in the page count.
  const all = await sharp(bytes, { pages: -1, limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  if (all && all.pageHeight !== undefined && all.height === all.pageHeight * pages) {
    checkDeclared(all, pages, limits);
    const d = await decodePages(bytes, { pages: -1 }, all);
    const pageHeight = d.height / pages;
    if (Number.isInteger(pageHeight)) {
      const size = d.width * pageHeight * d.channels;
      return Array.from({ length: pages }, (_, p) => pageImage(d, d.pixels.slice(p * size, (p + 1) * size), pageHeight, format, p, pages, source));
    }
  }
  // Pages of different sizes or types: one at a time.
  checkDeclared(first, pages, limits);
  const out: RawImage[] = [];
  for (let p = 0; p < pages; p++) {
    const meta = await sharp(bytes, { page: p, limitInputPixels: false }).metadata();
    checkDeclared(meta, 1, limits);
    const d = await decodePages(bytes, { page: p }, meta);
    out.push(pageImage(d, d.pixels, d.height, format, p, pages, source));
  }
  return out;
}

/**
 * Round and clamp to 0..maxValue: colour samples after multiplying by SCALE, alpha (the last channel when HASALPHA)
 * after multiplying by ALPHASCALE.
 */
function quantise(data: Float32Array, channels: number, hasAlpha: boolean, maxValue: number, scale: number, alphaScale: number): Uint8Array | Uint16Array {
  const out = maxValue > 255 ? new Uint16Array(data.length) : new Uint8Array(data.length);
  const alpha = hasAlpha ? channels - 1 : -1;
  for (let i = 0; i < data.length; i++) {
    const v = Math.round(data[i]! * (i % channels === alpha ? alphaScale : scale));
    out[i] = v > maxValue ? maxValue : v > 0 ? v : 0; // NaN -> 0
  }
  return out;
}

/** How to bring alpha from the source's range to 0..maxValue: photos' alpha is 0..255 or 0..65535. */
export function alphaScaleFor(image: Pick<RawImage, 'meta'>, maxValue: number): number {
  const sourceMax = image.meta.dtype === 'uint8' ? 255 : image.meta.dtype === 'uint16' ? 65535 : maxValue;
  return maxValue / sourceMax;
}

/**
 * PNG, 8 or 16 bits, 1-4 channels. Colour values are rounded and clamped to 0..255 / 0..65535 after multiplying by
 * `scale` (1 for values already in those units, 255 or 65535 for values in [0, 1]); alpha is rescaled from the
 * source's range.
 */
/** Density written into PNG outputs, in dots per inch. */
export const PNG_DPI = 72;

export async function encodePng(image: RawImage, bitDepth: 8 | 16, scale = 1): Promise<Buffer> {
  const { width, height, channels } = image;
  const maxValue = bitDepth === 16 ? 65535 : 255;
  const samples = quantise(image.data, channels, image.meta.hasAlpha, maxValue, scale, alphaScaleFor(image, maxValue));
  const space = bitDepth === 16 ? (channels <= 2 ? 'grey16' : 'rgb16') : channels <= 2 ? 'b-w' : 'srgb';
  // A real density (pHYs): sharp writes 1 pixel/mm (25.4 dpi) for raw input otherwise, and page layouts then print huge.
  return sharp(samples, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } })
    .toColourspace(space)
    .withDensity(PNG_DPI)
    .png({ compressionLevel: 6 })
    .toBuffer();
}

export interface TiffPage {
  width: number;
  height: number;
  channels: number;
  hasAlpha: boolean;
  data: Float32Array;
  /** Alpha's scale to the output range (default 1). */
  alphaScale?: number;
}

/**
 * A TIFF of one or more pages: float32 (bitDepth 32, values as they are) or unsigned 8/16-bit (colour rounded and
 * clamped after multiplying by `scale`, alpha by the page's `alphaScale`), chunky samples, one deflate-compressed
 * strip per page, little-endian.
 */
export function encodeTiff(pages: TiffPage[], bitDepth: 8 | 16 | 32, scale = 1): Uint8Array {
  const strips = pages.map((p) => {
    const samples = bitDepth === 32 ? p.data : quantise(p.data, p.channels, p.hasAlpha, bitDepth === 16 ? 65535 : 255, scale, p.alphaScale ?? 1);
    const raw = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength); // host order: little-endian
    return deflateSync(raw);
  });
  // Layout per page: IFD, then the arrays that do not fit in an entry, then the strip.
  const entriesFor = (p: TiffPage) => 11 + (p.hasAlpha ? 1 : 0);
  let size = 8;
  const layout = pages.map((p, i) => {
    const ifd = size;
    const ifdBytes = 2 + entriesFor(p) * 12 + 4;
    const arrayBytes = p.channels > 2 ? p.channels * 2 : 0; // SHORT arrays of length > 2 go out of line
    const bitsAt = ifd + ifdBytes;
    const formatAt = bitsAt + arrayBytes;
    const stripAt = formatAt + arrayBytes;
    size = stripAt + strips[i]!.length;
    size += size & 1; // word alignment for the next IFD
    return { ifd, bitsAt, formatAt, stripAt };
  });
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  view.setUint16(2, 42, true);
  view.setUint32(4, layout[0]!.ifd, true);
  pages.forEach((p, i) => {
    const { ifd, bitsAt, formatAt, stripAt } = layout[i]!;
    const sampleFormat = bitDepth === 32 ? 3 : 1;
    const entries: [tag: number, type: 3 | 4, count: number, value: number | number[]][] = [
      [256, 4, 1, p.width],
      [257, 4, 1, p.height],
      [258, 3, p.channels, new Array<number>(p.channels).fill(bitDepth)],
      [259, 3, 1, 8], // Adobe deflate
      [262, 3, 1, p.channels >= 3 ? 2 : 1], // RGB or BlackIsZero
      [273, 4, 1, stripAt],
      [277, 3, 1, p.channels],
      [278, 4, 1, p.height],
      [279, 4, 1, strips[i]!.length],
      [284, 3, 1, 1], // chunky
      ...(p.hasAlpha ? [[338, 3, 1, 2] as [number, 3, number, number]] : []), // unassociated alpha
      [339, 3, p.channels, new Array<number>(p.channels).fill(sampleFormat)],
    ];
    view.setUint16(ifd, entries.length, true);
    entries.forEach(([tag, type, count, value], e) => {
      const at = ifd + 2 + e * 12;
      view.setUint16(at, tag, true);
      view.setUint16(at + 2, type, true);
      view.setUint32(at + 4, count, true);
      const values = Array.isArray(value) ? value : [value];
      if (type === 4) view.setUint32(at + 8, values[0]!, true);
      else if (count <= 2) values.forEach((v, k) => view.setUint16(at + 8 + k * 2, v, true));
      else {
        const arrayAt = tag === 258 ? bitsAt : formatAt;
        view.setUint32(at + 8, arrayAt, true);
        values.forEach((v, k) => view.setUint16(arrayAt + k * 2, v, true));
      }
    });
    const next = i + 1 < pages.length ? layout[i + 1]!.ifd : 0;
    view.setUint32(ifd + 2 + entries.length * 12, next, true);
    out.set(strips[i]!, stripAt);
  });
  return out;
}
