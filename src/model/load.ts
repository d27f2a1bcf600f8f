/**
 * Resolves `--model`: `builtin` (the shipped trained U-Net, or the seed's architecture with a fixed
 * initialisation until trained weights ship), a TensorFlow.js model.json or its directory.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { type LayersModel } from '../tf.js';
import { InputError } from '../errors.js';
import { BUILTIN_MODEL_DIR, MRI_MODEL_DIR } from './paths.js';
import { loadLayersModelFromFile, readModelMetadata } from './tfjs-files.js';
import { loadKerasH5 } from './keras-h5.js';
import { buildUNet, UNET_INIT_SEED } from './unet.js';
import { withInputSize } from './resize.js';

export interface LoadedModel {
  model: LayersModel;
  /** What the user asked for (`builtin`, a path). */
  spec: string;
  /** Stable id for manifests: `builtin:unet-phantom`, `builtin:unet-init-<seed>`, or the file path. */
  id: string;
  /** sha256 over topology and weight bytes: two runs with the same hash used the same network. */
  sha256: string;
  trained: boolean;
  /** Trained by `unet-dream train --residual`: the output is the aliasing, the reconstruction input + output. */
  residual: boolean;
  /** One sentence a user should know about these weights. */
  note: string;
  /** Details for a verbose log, one line each: e.g. a training-only layer (Dropout, GaussianNoise) loaded as identity. */
  notes: string[];
}

export function modelSha256(model: LayersModel): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(model.toJSON(undefined, false)));
  for (const w of model.getWeights()) {
    const data = w.dataSync() as Float32Array;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

async function loadBuiltin(): Promise<Omit<LoadedModel, 'sha256' | 'spec' | 'notes'>> {
  const json = path.join(BUILTIN_MODEL_DIR, 'model.json');
  if (existsSync(json)) {
    // Trained at any size; shown (and summarised) at the seed's 128x128 like its Keras summary.
    const model = await withInputSize(await loadLayersModelFromFile(json), 128, 128);
    return { model, id: 'builtin:unet-phantom', trained: true, residual: await trainedResidual(json), note: 'U-Net trained on simulated phantoms by `unet-dream train` (see models/unet-phantom/README.md)' };
  }
  return {
    model: buildUNet({ seed: UNET_INIT_SEED }),
    id: `builtin:unet-init-${UNET_INIT_SEED}`,
    trained: false,
    residual: false,
    note: `untrained: the seed's U-Net with a fixed-seed initialisation (glorot-uniform, seed ${UNET_INIT_SEED}); trained weights are not shipped yet`,
  };
}

/** `--model mri`: the shipped U-Net fine-tuned on real MR slices, shown at 128x128 like builtin. */
async function loadShippedMri(): Promise<Omit<LoadedModel, 'sha256' | 'spec' | 'notes'>> {
  const json = path.join(MRI_MODEL_DIR, 'model.json');
  if (!existsSync(json)) throw new InputError(json, 'the mri model is not in this installation (models/unet-mri/model.json missing)');
  const model = await withInputSize(await loadLayersModelFromFile(json), 128, 128);
  return { model, id: 'builtin:unet-mri', trained: true, residual: await trainedResidual(json), note: 'U-Net fine-tuned on Colin27 brain slices and phantoms by `unet-dream train` (see models/unet-mri/README.md)' };
}

async function loadFromPath(spec: string, architecture: string | undefined, onNote: (note: string) => void): Promise<Omit<LoadedModel, 'sha256' | 'spec' | 'notes'>> {
  let file = spec;
  const stat = await fs.stat(spec).catch(() => undefined);
  if (!stat) throw new InputError(spec, 'no such model file or directory');
  if (stat.isDirectory()) {
    file = path.join(spec, 'model.json');
    if (!existsSync(file)) throw new InputError(spec, 'directory has no model.json');
  }
  const lower = file.toLowerCase();
  if (lower.endsWith('.h5') || lower.endsWith('.hdf5') || lower.endsWith('.keras')) {
    return { model: await loadKerasH5(file, { architecture, onNote }), id: path.resolve(file), trained: true, residual: false, note: `Keras HDF5 model loaded from ${file}` };
  }
  return { model: await loadLayersModelFromFile(file, { onNote }), id: path.resolve(file), trained: true, residual: await trainedResidual(file), note: `loaded from ${file}` };
}

export interface LoadModelOptions {
  /** Architecture (Keras JSON or model.json) for a weights-only Keras file. */
  architecture?: string;
}

/** Whether a model.json written by `unet-dream train` says it was trained residually. */
async function trainedResidual(jsonPath: string): Promise<boolean> {
  const meta = (await readModelMetadata(jsonPath)) as { unetDream?: { residual?: boolean } } | undefined;
  return meta?.unetDream?.residual === true;
}

export async function loadModel(spec = 'builtin', options: LoadModelOptions = {}): Promise<LoadedModel> {
  const notes: string[] = [];
  const loaded = spec === 'builtin' ? await loadBuiltin() : spec === 'mri' ? await loadShippedMri() : await loadFromPath(spec, options.architecture, (note) => notes.push(note));
  return { ...loaded, spec, sha256: modelSha256(loaded.model), notes };
}
