/**
 * What a dissection, an ablation and a pruning run share before and after their own work: checks
 * of the undersampling and the image count, the output folder, the model at the run's image size,
 * and the manifest's common fields.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel, type LoadedModel } from '../model/load.js';
import { withInputSize } from '../model/resize.js';
import { ensureWritableDir } from '../io/atomic.js';
import { packageVersions, writeManifest } from '../run/manifest.js';
import { validateUndersampling } from '../train/train.js';
import type { UndersamplingOptions } from '../train/dataset.js';
import { invalidParameterError } from '../errors.js';
import type { LayersModel } from '../tf.js';
import type { PairSource } from './data.js';

export interface PairsRunConfig {
  model: string;
  architecture?: string;
  source: PairSource;
  size: number;
  seed: number;
  undersampling: UndersamplingOptions;
  out: string;
}

export interface OpenedPairsRun {
  loaded: LoadedModel;
  /** The model at the run's image size. */
  model: LayersModel;
  startedAt: string;
  started: number;
}

/** Checks the options every such run has (`countFlag`: how the user gave the phantom count), makes `out`, loads the model. */
export async function openPairsRun(config: PairsRunConfig, countFlag: string): Promise<OpenedPairsRun> {
  validateUndersampling({ ...config.undersampling, size: config.size });
  if (config.source.kind === 'phantoms' && (!Number.isInteger(config.source.n) || config.source.n < 1)) throw invalidParameterError(countFlag, 'an integer >= 1', config.source.n);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  await ensureWritableDir(config.out);
  const loaded = await loadModel(config.model, { architecture: config.architecture });
  const model = await withInputSize(loaded.model, config.size, config.size);
  return { loaded, model, startedAt, started };
}

/** manifest.json of such a run: the common fields, then the command's own (`extra`); returns its path. */
export async function writePairsManifest(run: OpenedPairsRun, command: string, config: PairsRunConfig & Record<string, unknown>, files: string[], extra: Record<string, unknown>): Promise<string> {
  const { loaded } = run;
  return writeManifest(config.out, {
    command,
    config,
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    engine: { engine: 'onnx', backend: 'onnxruntime-cpu', provider: 'onnxruntime-node' },
    versions: packageVersions(),
    seed: config.seed,
    startedAt: run.startedAt,
    wallTimeMs: Math.round(performance.now() - run.started),
    results: files.map((f) => path.basename(f)),
    ...extra,
  });
}
