/** `ablate` as a library call: held-out images, ablation per layer, ablate-<layer>.json and .png, manifest. */
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { buildReport } from '../report/build.js';
import type { EventSink } from '../events.js';
import { loadPairs } from '../dissect/data.js';
import { openPairsRun, writePairsManifest, type PairsRunConfig } from '../dissect/setup.js';
import { ablate, validateAblateConfig, type LayerAblation } from './ablate.js';
import { importancePlot } from './plot.js';

export interface AblateRunConfig extends PairsRunConfig {
  layers: string[];
  batch?: number;
  threads?: number;
}

export async function runAblate(config: AblateRunConfig, onEvent: EventSink = () => undefined): Promise<{ layers: LayerAblation[]; files: string[] }> {
  const run = await openPairsRun(config, '--n');
  const { loaded, model } = run;
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
  await writePairsManifest(run, 'ablate', { ...config }, files, { layers: layers.map(({ importance: _i, ...rest }) => rest) });
  files.push(path.join(config.out, 'manifest.json'));
  files.push((await buildReport(config.out)).file);
  return { layers, files };
}
