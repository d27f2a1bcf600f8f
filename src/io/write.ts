/**
 * Writing images: PNG (8/16-bit), TIFF (float32 or 8/16-bit, pages), NIfTI (.nii / .nii.gz, slices or a volume)
 * and DICOM (a derived object). Every write is atomic.
 *
 * Values. An image normalised by `percentileWindow` (it has `meta.window`) holds [0, 1] data: PNG and 8/16-bit
 * TIFF map [0, 1] to the full integer range, while float TIFF, NIfTI and DICOM map it back to the source's units
 * through the window. An image without a window is written as it is (PNG and integer TIFF round and clamp).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { OutputError, invalidParameterError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { encodeDicom } from './dicom/index.js';
import type { RawImage } from './image.js';
import { unwindow } from './intensity.js';
import { encodeNifti } from './nifti.js';
import { alphaScaleFor, encodePng, encodeTiff } from './raster.js';

export type WriteFormat = 'png' | 'tiff' | 'nifti' | 'dicom';

export interface WriteOptions {
  /** Default: from the file name (.png, .tif/.tiff, .nii/.nii.gz, .dcm). */
  format?: WriteFormat;
  /**
   * PNG: 8 or 16 (default 16 when the source had more than 8 bits, else 8). TIFF: 8, 16 or 32 (float, default).
   * NIfTI: 8, 16 or 32 (float); default the source volume's datatype for slices read from a NIfTI file, else 32.
   * DICOM: 16 (default; a DICOM source's own stored representation is kept when the values fit it; colour images
   * are written as 8-bit RGB).
   */
  bitDepth?: 8 | 16 | 32;
  /** NIfTI: gzip the file (default: when the name ends in .gz). */
  gzip?: boolean;
  /** DICOM SeriesDescription / DerivationDescription and NIfTI descrip: what was done. */
  description?: string;
  /** DICOM: the derived series' UID (default: one new UID per source series per process). */
  seriesInstanceUID?: string;
  /** DICOM: the derived series' number (default: the source's + 1000). */
  seriesNumber?: number;
}

const FORMATS: readonly WriteFormat[] = ['png', 'tiff', 'nifti', 'dicom'];

export function formatForFile(file: string): WriteFormat | undefined {
  const name = file.toLowerCase();
  if (name.endsWith('.png')) return 'png';
  if (name.endsWith('.tif') || name.endsWith('.tiff')) return 'tiff';
  if (name.endsWith('.nii') || name.endsWith('.nii.gz')) return 'nifti';
  if (name.endsWith('.dcm')) return 'dicom';
  return undefined;
}

function resolveFormat(file: string, options: WriteOptions): WriteFormat {
  if (options.format !== undefined) {
    if (!FORMATS.includes(options.format)) throw invalidParameterError('format', "one of 'png', 'tiff', 'nifti', 'dicom'", options.format);
    return options.format;
  }
  const format = formatForFile(file);
  if (!format) throw invalidParameterError('format', 'a file name ending .png, .tif, .tiff, .nii, .nii.gz or .dcm (or a format option)', path.basename(file));
  return format;
}

function resolveBitDepth(format: WriteFormat, images: RawImage[], requested: number | undefined): 8 | 16 | 32 {
  const allowed: Record<WriteFormat, readonly number[]> = { png: [8, 16], tiff: [8, 16, 32], nifti: [8, 16, 32], dicom: [16] };
  if (requested !== undefined) {
    if (!allowed[format].includes(requested)) throw invalidParameterError('bitDepth', `one of ${allowed[format].join(', ')} for ${format}`, requested);
    return requested as 8 | 16 | 32;
  }
  if (format === 'png') return images.some((i) => i.meta.bitDepth > 8) ? 16 : 8;
  return format === 'dicom' ? 16 : 32;
}

function checkImage(image: RawImage, index: number): void {
  const { width, height, channels, data } = image;
  const name = index === 0 ? 'image' : `images[${index}]`;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw invalidParameterError(`${name} size`, 'positive integer width and height', { width, height });
  if (!(Number.isInteger(channels) && channels >= 1 && channels <= 4)) throw invalidParameterError(`${name}.channels`, '1, 2, 3 or 4', channels);
  if (!(data instanceof Float32Array) || data.length !== width * height * channels) {
    throw invalidParameterError(`${name}.data`, `a Float32Array of ${width}x${height}x${channels} values`, data instanceof Float32Array ? `${data.length} values` : typeof data);
  }
}

/** The bytes of a file holding IMAGES (several only for TIFF pages and NIfTI volumes). */
export async function encodeImages(images: RawImage[], format: WriteFormat, options: WriteOptions = {}, gzip = false): Promise<Uint8Array> {
  if (images.length === 0) throw invalidParameterError('images', 'at least one image', images);
  images.forEach(checkImage);
  if (images.length > 1 && (format === 'png' || format === 'dicom')) {
    throw invalidParameterError('images', `one image for ${format} (several go to TIFF pages or a NIfTI volume)`, `${images.length} images`);
  }
  const bitDepth = resolveBitDepth(format, images, options.bitDepth);
  const first = images[0]!;
  switch (format) {
    case 'png': {
      const scale = first.meta.window ? (bitDepth === 16 ? 65535 : 255) : 1;
      return new Uint8Array(await encodePng(first, bitDepth as 8 | 16, scale));
    }
    case 'tiff': {
      const normalised = images.some((i) => i.meta.window !== undefined);
      if (bitDepth === 32) return encodeTiff(images.map((i) => ({ ...i, hasAlpha: i.meta.hasAlpha, data: unwindow(i).data })), 32);
      const scale = normalised ? (bitDepth === 16 ? 65535 : 255) : 1;
      const maxValue = bitDepth === 16 ? 65535 : 255;
      return encodeTiff(
        images.map((i) => ({ ...i, hasAlpha: i.meta.hasAlpha, alphaScale: alphaScaleFor(i, maxValue) })),
        bitDepth as 8 | 16,
        scale,
      );
    }
    case 'nifti': {
      const sizes = new Set(images.map((i) => `${i.width}x${i.height}x${i.channels}`));
      if (sizes.size > 1) throw invalidParameterError('images', 'images of one size for a NIfTI volume', [...sizes]);
      const bytes = encodeNifti(images, images.map((i) => unwindow(i).data), {
        // Unset: the source volume's datatype when the images came from one.
        ...(options.bitDepth !== undefined ? { bitDepth } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
      });
      return gzip ? new Uint8Array(gzipSync(bytes)) : bytes;
    }
    case 'dicom':
      return encodeDicom(first, unwindow(first).data, options);
  }
}

async function writeBytes(file: string, bytes: Uint8Array): Promise<void> {
  try {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  } catch (err) {
    throw new OutputError(file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  await writeFileAtomic(file, bytes);
}

/** Write one image to FILE (format from the name unless given). */
export async function writeImage(image: RawImage, file: string, options: WriteOptions = {}): Promise<void> {
  const format = resolveFormat(file, options);
  const gzip = options.gzip ?? file.toLowerCase().endsWith('.gz');
  await writeBytes(file, await encodeImages([image], format, options, gzip));
}

/** Write several images to one file: TIFF pages or a NIfTI volume (slices stacked in order). */
export async function writeImages(images: RawImage[], file: string, options: WriteOptions = {}): Promise<void> {
  const format = resolveFormat(file, options);
  const gzip = options.gzip ?? file.toLowerCase().endsWith('.gz');
  await writeBytes(file, await encodeImages(images, format, options, gzip));
}
