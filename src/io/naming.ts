/**
 * Output files named after their inputs: `scan.nii.gz` -> `scan` + the extension of the format written,
 * and the format a derived image keeps by default (MR formats keep theirs, anything else becomes PNG).
 */
import path from 'node:path';
import type { RawImage } from './image.js';
import type { WriteFormat } from './write.js';

/** The extension each format is written with (formatForFile in write.ts reads them back). */
export const EXTENSIONS: Readonly<Record<WriteFormat, string>> = Object.freeze({ png: '.png', tiff: '.tif', nifti: '.nii.gz', dicom: '.dcm' });

/** The file name without its extension (`.nii.gz` counts as one). */
export function baseName(file: string): string {
  const name = path.basename(file);
  return name.replace(/\.nii\.gz$/i, '').replace(/\.[^.]+$/, '') || name;
}

/** The format an image derived from IMAGE is written in unless the user chose one. */
export function keptFormat(image: RawImage): WriteFormat {
  const f = image.meta.format;
  return f === 'dicom' || f === 'nifti' || f === 'tiff' ? f : 'png';
}
