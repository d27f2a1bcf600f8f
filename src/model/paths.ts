import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root, whether running from src/ (tests, tsx) or dist/ (the built CLI). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILTIN_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'unet-phantom');
/** `--model mri`: the U-Net fine-tuned on real brain slices and phantoms (models/unet-mri/README.md). */
export const MRI_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'unet-mri');
