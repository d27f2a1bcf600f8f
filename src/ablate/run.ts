/** `ablate` as a library call: held-out images, ablation per layer, ablate-<layer>.json and .png, manifest. */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../model/load.js';
import { withInputSize } from '../model/resize.js';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import { buildReport } from '../report/build.js';
import { packageVersions, writeManifest } from '../run/manifest.js';
import type { EventSink } from '../events.js';
import { validateUndersampling } from '../train/train.js';
import type { UndersamplingOptions } from '../train/dataset.js';
import { invalidParameterError } from '../errors.js';
import { loadPairs, type PairSource } from '../dissect/data.js';
import { ablate, validateAblateConfig, type LayerAblation } from './ablate.js';
import { importancePlot } from './plot.js';

export interface AblateRunConfig {
  model: string;
  architecture?: string;
  layers: string[];
  source: PairSource;
  size: number;
  seed: number;
  undersampling: UndersamplingOptions;
  out: string;
  batch?: number;
  threads?: number;
}

export async function runAblate(config: AblateRunConfig, onEvent: EventSink = () => undefined): Promise<{ layers: LayerAblation[]; files: string[] }> {
  validateUndersampling({ ...config.undersampling, size: config.size });
  if (config.source.kind === 'phantoms' && (!Number.isInteger(config.source.n) || config.source.n < 1)) throw invalidParameterError('--n', 'an integer >= 1', config.source.n);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  await ensureWritableDir(config.out);
  const loaded = await loadModel(config.model, { architecture: config.architecture });
  const model = await withInputSize(loaded.model, config.size, config.size);
  const ablateConfig = { layers: config.layers, batch: config.batch, threads: config.threads, residual: loaded.residual };
  validateAblateConfig(model, ablateConfig);
  const pairs = await loadPairs(config.source, config.size, config.seed, config.undersampling);
  const layers = await ablate(model, pairs, ablateConfig, onEvent);
  const files: string[] = [];
  for (const l of layers) {
    const json = path.join(config.out, `ablate-${l.layer}.json`);
    await writeFileAtomic(json, `${JSON.stringify({ model: loaded.id, residual: loaded.residual, ...l }, null, 2)}\n`);
    const png = path.join(config.out, `ablate-${l.layer}.png`);
    await writeFileAtomic(png, await importancePlot(l));
    files.push(json, png);
  }
  await writeManifest(config.out, {
    command: 'ablate',
    config,
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    engine: { engine: 'onnx', backend: 'onnxruntime-cpu', provider: 'onnxruntime-node' },
    versions: packageVersions(),
    seed: config.seed,
    startedAt,
    wallTimeMs: Math.round(performance.now() - started),
    results: files.map((f) => path.basename(f)),
    layers: layers.map(({ importance: _i, ...rest }) => rest),
  });
  files.push(path.join(config.out, 'manifest.json'));
  files.push((await buildReport(config.out)).file);
  return { layers, files };
}
