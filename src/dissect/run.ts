/**
 * `dissect` as a library call: load the model, build the image pairs, dissect, write manifest.json,
 * dissect.json and one sheet per layer into `out`. Reports through events; never prints.
 */
import path from 'node:path';
import { createEngine } from '../engine/select.js';
import type { BackendChoice } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildReport } from '../report/build.js';
import type { EventSink } from '../events.js';
import { loadPairs } from './data.js';
import { openPairsRun, writePairsManifest, type PairsRunConfig } from './setup.js';
import { dissect, formatDissectTable, validateDissectConfig, type DissectConfig, type DissectResult } from './dissect.js';
import { renderDissectSheets, type SheetConfig } from './sheet.js';

export interface DissectRunConfig extends DissectConfig, PairsRunConfig {
  /** Sheets per layer (false: none). */
  sheets: SheetConfig | false;
  /** Engine of the synthetic images (default auto). */
  backend?: BackendChoice;
}

export interface DissectRunResult {
  result: DissectResult;
  files: string[];
  failed: { input: string; error: string }[];
  /** The per-layer table, for the caller to show. */
  table: string[];
}

export async function runDissect(config: DissectRunConfig, onEvent: EventSink = () => undefined): Promise<DissectRunResult> {
  const run = await openPairsRun(config, '--phantoms');
  const { loaded, model } = run;
  validateDissectConfig(model, config);
  const pairs = await loadPairs(config.source, config.size, config.seed, config.undersampling);
  for (const f of pairs.failed) onEvent({ type: 'warn', message: f.error });
  onEvent({ type: 'info', message: `dissecting ${model.layers.length} layers of ${loaded.id} on ${pairs.n} images` });
  const result = await dissect(model, pairs, config, onEvent);
  const files: string[] = [];
  const json = path.join(config.out, 'dissect.json');
  await writeFileAtomic(json, `${JSON.stringify({ model: loaded.id, ...result, imageNames: pairs.names }, null, 2)}\n`);
  files.push(json);
  if (config.sheets) {
    const { engine } = await createEngine(model, config.backend ?? 'auto');
    try {
      const sheets = await renderDissectSheets(model, engine, pairs, result, { seed: config.seed, ...config.sheets }, (layer, done, total) =>
        onEvent({ type: 'progress', done, total, label: `sheet ${layer}` }),
      );
      for (const [layer, png] of sheets) {
        const file = path.join(config.out, `dissect-${layer}.png`);
        await writeFileAtomic(file, png);
        files.push(file);
      }
    } finally {
      engine.dispose();
    }
  }
  const { layers: _l, ...cfg } = config;
  await writePairsManifest(run, 'dissect', { ...cfg, ...result.config }, files, { layers: result.layers.map(({ units: _u, ...summary }) => summary) });
  files.push(path.join(config.out, 'manifest.json'));
  files.push((await buildReport(config.out)).file);
  return { result, files, failed: pairs.failed, table: formatDissectTable(result) };
}
