/**
 * Reading any supported file: the format comes from the content (magic numbers), the name only explains what is
 * wrong when the content matches nothing. Every failure is an InputError naming the file with a one-line reason.
 */
import { promises as fs } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InputError, UsageError, invalidParameterError } from '../errors.js';
import { readDicom } from './dicom/index.js';
import type { RawImage } from './image.js';
import { readNifti, type SliceAxis } from './nifti.js';
import { readRaster } from './raster.js';
import { formatBytes, resolveLimits, type InputLimits } from './limits.js';
import { formatFromName, looksLikeHeaderOnly, notFormatReason, sniffBytes } from './sniff.js';

export interface ReadOptions {
  /**
   * Read only this slice, frame or page (0-based); for NIfTI, along `axis`. Without it, `readImages` returns every
   * slice and `readImage` the middle one.
   */
  slice?: number;
  /**
   * NIfTI: the anatomical axis to slice along, 'x' (sagittal), 'y' (coronal) or 'z' (axial, the default except for
   * a volume one voxel thick, which is sliced across that voxel).
   */
  axis?: SliceAxis;
  /**
   * NIfTI: which volume of a 4-D file. `readImages` returns every volume (volume by volume, each with its slices)
   * unless one is picked; `readImage` reads volume 0 unless one is picked.
   */
  volume?: number | 'all';
  /**
   * Input limits: the largest image (pixels) and the most data a file may decompress or decode to. Defaults in
   * DEFAULT_LIMITS (docs/INPUTS.md); raise them here for bigger inputs.
   */
  limits?: Partial<InputLimits>;
}

function checkOptions(options: ReadOptions): void {
  const { slice, axis, volume } = options;
  if (slice !== undefined && !(Number.isInteger(slice) && slice >= 0)) throw invalidParameterError('slice', 'a non-negative integer', slice);
  if (volume !== undefined && volume !== 'all' && !(Number.isInteger(volume) && volume >= 0)) throw invalidParameterError('volume', "a non-negative integer or 'all'", volume);
  resolveLimits(options.limits);
  if (axis !== undefined && !['x', 'y', 'z'].includes(axis)) throw invalidParameterError('axis', "one of 'x', 'y', 'z'", axis);
}

/** One line, without an 'Error:' prefix. */
function oneLine(message: string): string {
  const line = message.split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
  return line.replace(/^(\w*Error:\s*)+/, '').trim();
}

/** Any failure while reading FILE as an InputError; usage errors pass through. */
export function toInputError(file: string, err: unknown): Error {
  if (err instanceof InputError || err instanceof UsageError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new InputError(file, 'no such file');
    case 'EISDIR':
      return new InputError(file, 'is a directory, not a file');
    case 'EACCES':
    case 'EPERM':
      return new InputError(file, 'permission denied');
    case 'ELOOP':
      return new InputError(file, 'too many levels of symbolic links');
    case 'ENOTDIR':
      return new InputError(file, 'a part of the path is not a directory');
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InputError(file, oneLine(message));
}

async function readBytes(file: string, limits: InputLimits): Promise<Uint8Array> {
  const stat = await fs.stat(file);
  if (stat.isDirectory()) throw new InputError(file, 'is a directory, not a file');
  if (!stat.isFile()) throw new InputError(file, 'not a regular file');
  if (stat.size > limits.maxBytes) {
    throw new InputError(file, `the file holds ${formatBytes(stat.size)}, more than the input limit of ${formatBytes(limits.maxBytes)} (limits.maxBytes)`);
  }
  const bytes = await fs.readFile(file);
  if (bytes.length === 0) throw new InputError(file, 'empty file (0 bytes)');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type DecodeOptions = Omit<ReadOptions, 'slice' | 'limits'> & { slice?: number | 'middle'; limits: InputLimits };

async function decode(bytes: Uint8Array, file: string, options: DecodeOptions): Promise<RawImage[]> {
  let format = sniffBytes(bytes);
  if (format === 'gzip') {
    try {
      // Bounded: a small .nii.gz that inflates to gigabytes is refused before the memory is taken.
      bytes = new Uint8Array(gunzipSync(bytes, { maxOutputLength: options.limits.maxBytes }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new InputError(file, `decompresses to more than the input limit of ${formatBytes(options.limits.maxBytes)} (limits.maxBytes)`);
      }
      throw new InputError(file, `corrupt gzip data: ${oneLine((err as Error).message)}`);
    }
    format = sniffBytes(bytes);
    if (format !== 'nifti') {
      throw new InputError(file, bytes.length === 0 ? 'gzip file holds no data' : 'gzip file does not hold a NIfTI volume');
    }
  }
  if (format === undefined) {
    const byName = formatFromName(file);
    if (byName) throw new InputError(file, notFormatReason(byName, bytes));
    if (looksLikeHeaderOnly(bytes)) throw new InputError(file, 'Analyze / NIfTI .hdr+.img pairs are not supported: convert to a single .nii');
    throw new InputError(file, 'unrecognised file format (not PNG, JPEG, TIFF, WebP, DICOM or NIfTI)');
  }
  switch (format) {
    case 'dicom':
      return readDicom(bytes, file, options);
    case 'nifti':
      return readNifti(bytes, file, options);
    default:
      try {
        return await readRaster(bytes, format, file, options);
      } catch (err) {
        if (err instanceof RangeError) throw err;
        throw new InputError(file, `cannot decode ${format.toUpperCase()}: ${oneLine((err as Error).message)}`);
      }
  }
}

/**
 * Every image a file holds: one for a photo, one per page of a TIFF, one per frame of a DICOM, one per slice of a
 * NIfTI volume (along `options.axis`), or just `options.slice`.
 */
export async function readImages(file: string, options: ReadOptions = {}): Promise<RawImage[]> {
  checkOptions(options);
  const limits = resolveLimits(options.limits);
  try {
    return await decode(await readBytes(file, limits), file, { ...options, limits });
  } catch (err) {
    throw toInputError(file, err);
  }
}

/** One image: `options.slice` when given, else the file's only image, else its middle slice / frame / page. */
export async function readImage(file: string, options: ReadOptions = {}): Promise<RawImage> {
  checkOptions(options);
  const limits = resolveLimits(options.limits);
  try {
    const images = await decode(await readBytes(file, limits), file, { ...options, slice: options.slice ?? 'middle', volume: options.volume ?? 0, limits });
    return images[0]!;
  } catch (err) {
    throw toInputError(file, err);
  }
}
