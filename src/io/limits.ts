/**
 * Input limits: how much a file may decode to before a reader refuses it. They exist so a small hostile or broken
 * file (a gzip bomb, a PNG header claiming 16000x16000, a DICOM declaring 2^31 frames) is refused with a one-line
 * error before anything large is allocated, instead of taking the process down. Every check runs on the sizes a
 * header declares, before the pixels are decoded.
 */
import { invalidParameterError } from '../errors.js';

export interface InputLimits {
  /** Pixels in one image (one slice, frame or page): width x height. Default 2^26 (67,108,864, e.g. 8192x8192). */
  maxPixels: number;
  /**
   * Bytes a file may hold or decompress / decode to, counted in its own sample type (a .nii.gz after gunzip, a
   * DICOM's declared pixel data, all pages of a TIFF). Default 2^29 (512 MiB).
   */
  maxBytes: number;
}

export const DEFAULT_LIMITS: Readonly<InputLimits> = Object.freeze({ maxPixels: 2 ** 26, maxBytes: 2 ** 29 });

/** The defaults with the caller's overrides, each checked. */
export function resolveLimits(limits: Partial<InputLimits> | undefined): InputLimits {
  const out = { ...DEFAULT_LIMITS, ...(limits ?? {}) };
  for (const key of ['maxPixels', 'maxBytes'] as const) {
    const v = out[key];
    if (!(Number.isSafeInteger(v) && v > 0)) throw invalidParameterError(`limits.${key}`, 'a positive integer', v);
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${+(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${+(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${+(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Refuses an image of WIDTH x HEIGHT beyond the pixel limit. */
export function checkPixels(width: number, height: number, limits: InputLimits, what = 'image'): void {
  const pixels = width * height;
  if (pixels > limits.maxPixels) {
    throw new Error(`${what} of ${width}x${height} (${pixels} pixels) exceeds the input limit of ${limits.maxPixels} pixels (limits.maxPixels)`);
  }
}

/** Refuses data that would decode to more than the byte limit. */
export function checkBytes(bytes: number, limits: InputLimits, what: string): void {
  if (bytes > limits.maxBytes) throw new Error(`${what} ${formatBytes(bytes)}, more than the input limit of ${formatBytes(limits.maxBytes)} (limits.maxBytes)`);
}
