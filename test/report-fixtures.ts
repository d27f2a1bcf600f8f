/** Two tiny real runs (filters and dream) whose output folders the report tests read. */
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { createImage } from '../src/io/image.js';
import { writeImage } from '../src/io/write.js';
import { sheppLogan } from '../src/mri/index.js';
import { captureOutput, tempDir } from './helpers.js';

export const run = (...argv: string[]) => captureOutput(() => main(argv));

export const FILTER_STEPS = 4;

/** 2 layers x 3 filters, 4 steps at 16x16, animated, with SVG sheets and the percentile window. */
export async function tinyFiltersRun(): Promise<{ out: string; stdout: string; code: number }> {
  const out = tempDir('unet-dream-report-filters-');
  const { result, stdout } = await run(
    'filters', '--layers', 'dconv64,uconv64', '--filters', '0-2', '--steps', String(FILTER_STEPS), '--size', '16', '--seed', '1',
    '--workers', '1', '--normalize', 'p1-99', '--format', 'svg', '--animate', '--out', out,
  );
  return { out, stdout, code: result };
}

/** A NIfTI slice, a DICOM slice and a photo dreamed for 2 octaves x 3 steps, animated; one missing input. */
export async function tinyDreamRun(): Promise<{ out: string; inputs: string; stdout: string; code: number }> {
  const inputs = tempDir('unet-dream-report-inputs-');
  const mr = sheppLogan(32).map((v) => Math.round(v * 1000));
  await writeImage(createImage(32, 32, 1, mr, { format: 'nifti', dtype: 'int16', bitDepth: 16 }), path.join(inputs, 'slice.nii.gz'));
  await writeImage(createImage(32, 32, 1, mr, { format: 'dicom', dtype: 'int16', bitDepth: 16 }), path.join(inputs, 'slice.dcm'));
  const rgb = new Float32Array(40 * 24 * 3);
  for (let i = 0; i < 40 * 24; i++) rgb.set([(i * 7) % 256, (i * 3) % 256, 200], i * 3);
  await writeImage(createImage(40, 24, 3, rgb, { format: 'png', dtype: 'uint8', bitDepth: 8 }), path.join(inputs, 'photo.png'));
  const out = tempDir('unet-dream-report-dream-');
  const { result, stdout } = await run(
    'dream', path.join(inputs, 'slice.nii.gz'), path.join(inputs, 'slice.dcm'), path.join(inputs, 'photo.png'), path.join(inputs, 'missing.png'),
    '--layers', 'dconv128', '--octaves', '2', '--steps', '3', '--step', '0.05', '--jitter', '2', '--animate', '--out', out, '--backend', 'wasm',
  );
  return { out, inputs, stdout, code: result };
}
