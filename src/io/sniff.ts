/** Recognising a file's format from its first bytes, and from its name when the bytes say nothing. */
import type { ImageFormat } from './image.js';

export type SniffedFormat = ImageFormat | 'gzip';

function startsWith(bytes: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (bytes.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/** NIfTI-1 (sizeof_hdr 348, magic 'n+1' at 344) or NIfTI-2 (sizeof_hdr 540, magic 'n+2' at 4), either byte order. */
export function niftiVersion(bytes: Uint8Array): 1 | 2 | undefined {
  if (bytes.length < 348) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = (le: boolean) => view.getInt32(0, le);
  if ((size(true) === 348 || size(false) === 348) && ascii(bytes, 344, 4) === 'n+1\0') return 1;
  if (bytes.length >= 540 && (size(true) === 540 || size(false) === 540) && ascii(bytes, 4, 4) === 'n+2\0') return 2;
  return undefined;
}

/** An Analyze / NIfTI .hdr (header without data): sizeof_hdr 348 and magic 'ni1' or nothing. */
export function looksLikeHeaderOnly(bytes: Uint8Array): boolean {
  if (bytes.length < 348) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const is348 = view.getInt32(0, true) === 348 || view.getInt32(0, false) === 348;
  return is348 && (bytes.length === 348 || ascii(bytes, 344, 4) === 'ni1\0');
}

/** The format the bytes announce, or undefined. gzip is reported as such: the caller decompresses and sniffs again. */
export function sniffBytes(bytes: Uint8Array): SniffedFormat | undefined {
  // DICOM first: its 128-byte preamble may itself be a TIFF header (dual-personality files).
  if (bytes.length >= 132 && ascii(bytes, 128, 4) === 'DICM') return 'dicom';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff'; // BigTIFF
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  if (startsWith(bytes, [0x1f, 0x8b])) return 'gzip';
  if (niftiVersion(bytes) !== undefined) return 'nifti';
  return undefined;
}

/** The format a file name suggests ('.nii.gz' counts as NIfTI), or undefined. */
export function formatFromName(file: string): ImageFormat | undefined {
  const name = file.toLowerCase();
  if (name.endsWith('.nii') || name.endsWith('.nii.gz')) return 'nifti';
  const ext = name.slice(name.lastIndexOf('.') + 1);
  switch (ext) {
    case 'png':
      return 'png';
    case 'jpg':
    case 'jpeg':
      return 'jpeg';
    case 'tif':
    case 'tiff':
      return 'tiff';
    case 'webp':
      return 'webp';
    case 'dcm':
    case 'dicom':
    case 'ima':
      return 'dicom';
    default:
      return undefined;
  }
}

/** Why bytes that should be FORMAT (by their name) are not: the one-line reason for an InputError. */
export function notFormatReason(format: ImageFormat, bytes: Uint8Array): string {
  switch (format) {
    case 'dicom':
      return bytes.length < 132 ? `not a DICOM file: only ${bytes.length} bytes, too short for the 128-byte preamble and 'DICM' marker` : "not a DICOM file: no 'DICM' marker at byte 128";
    case 'nifti':
      return bytes.length < 348
        ? `not a NIfTI file: only ${bytes.length} bytes, shorter than a NIfTI header (348)`
        : "not a NIfTI file: no 'n+1'/'n+2' magic and header size is not 348 or 540";
    case 'png':
      return 'not a PNG file: bad signature';
    case 'jpeg':
      return 'not a JPEG file: no start-of-image marker';
    case 'tiff':
      return "not a TIFF file: no 'II*'/'MM*' header";
    case 'webp':
      return "not a WebP file: no 'RIFF....WEBP' header";
  }
}
