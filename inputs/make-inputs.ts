/**
 * Makes the small sample inputs the shipped pipelines point at, from the project's own code (no
 * third-party data): `npx tsx inputs/make-inputs.ts`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sheppLogan, randomPhantom, createRng } from '../src/mri/index.js';
import { createImage } from '../src/io/image.js';
import { writeImage } from '../src/io/write.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shepp = sheppLogan(256).map((v) => v * 255);
await writeImage(createImage(256, 256, 1, shepp, { format: 'png', dtype: 'uint8', bitDepth: 8 }), path.join(here, 'shepp-logan-256.png'));
for (let i = 0; i < 3; i++) {
  const phantom = randomPhantom(128, createRng(100 + i)).map((v) => Math.round(v * 1000));
  await writeImage(createImage(128, 128, 1, phantom, { format: 'nifti', dtype: 'int16', bitDepth: 16 }), path.join(here, 'mri', `phantom-${i}.nii.gz`));
}
