/**
 * `prune` as a library call: find dead filters on held-out images, take ablation scores (from earlier
 * `ablate` JSON files, or by ablating now), remove filters, write a smaller tfjs model with its
 * parameter count, and score it against the full model on the same images.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../model/load.js';
import { withInputSize } from '../model/resize.js';
import { readModelMetadata, saveLayersModel } from '../model/tfjs-files.js';
import { BUILTIN_MODEL_DIR } from '../model/paths.js';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import { buildReport } from '../report/build.js';
import type { EventSink } from '../events.js';
import { validateUndersampling } from '../train/train.js';
import type { QualityPair } from '../train/evaluate.js';
import type { LayersModel } from '../tf.js';
import { ForwardRunner } from '../dissect/forward-graph.js';
import type { PairSet } from '../dissect/data.js';
import type { UndersamplingOptions } from '../train/dataset.js';
import { InputError, unknownNameError } from '../errors.js';
import { heldOutPhantoms, reconstructionQuality } from '../dissect/data.js';
import { ablateLayer } from '../ablate/ablate.js';
import { pruneFilters, prunableLayers, type PruneReport } from './surgery.js';
import { filterMaxima, selectFilters, type KeepSpec, type LayerSelection } from './select.js';

export interface PruneRunConfig {
  model: string;
  architecture?: string;
  keep: KeepSpec;
  /** Layers to prune (default: every convolution but the output). */
  layers?: string[];
  /** Also remove the dead-on-data filters of every other prunable layer. */
  deadEverywhere?: boolean;
  /** Folder with ablate-<layer>.json files from `unet-dream ablate`; missing layers are ablated now. */
  scores?: string;
  /** Held-out phantoms for dead filters, fresh ablations and the before/after score. */
  n: number;
  size: number;
  seed: number;
  undersampling: UndersamplingOptions;
  out: string;
  threads?: number;
}

export interface PruneRunResult extends PruneReport {
  layers: LayerSelection[];
  quality: { full: QualityPair; pruned: QualityPair; n: number };
  modelDir: string;
  wallTimeMs: number;
}

/** Mean PSNR/SSIM of the model's reconstructions (onnxruntime forward passes, as eval scores them). */
async function scoreOnnx(model: LayersModel, pairs: PairSet, residual: boolean, threads?: number): Promise<QualityPair> {
  const output = model.outputs[0]!.sourceLayer.name;
  const runner = await ForwardRunner.create(model, { outputs: [output] }, threads);
  const pixels = pairs.size * pairs.size;
  let p = 0;
  let s = 0;
  try {
    // One image per run: on 2 cores a batch of 8 costs about twice the CPU time per image (BENCHMARKS.md).
    for (let i = 0; i < pairs.n; i++) {
      const y = (await runner.run({ input: { data: pairs.inputs.subarray(i * pixels, (i + 1) * pixels), dims: [1, pairs.size, pairs.size, 1] } }))[output]!.data;
      const [q] = reconstructionQuality(pairs, i, y, residual);
      p += q!.psnr;
      s += q!.ssim;
    }
  } finally {
    await runner.dispose();
  }
  return { psnr: p / pairs.n, ssim: s / pairs.n };
}

async function readScores(dir: string, layer: string): Promise<number[] | undefined> {
  const file = path.join(dir, `ablate-${layer}.json`);
  if (!existsSync(file)) return undefined;
  try {
    const json = JSON.parse(await fs.readFile(file, 'utf8')) as { importance: { filter: number; dPsnr: number }[] };
    const scores: number[] = [];
    for (const f of json.importance) scores[f.filter] = f.dPsnr;
    return scores;
  } catch (err) {
    throw new InputError(file, `not an ablate JSON file (${(err as Error).message})`);
  }
}

export async function runPrune(config: PruneRunConfig, onEvent: EventSink = () => undefined): Promise<PruneRunResult> {
  validateUndersampling({ ...config.undersampling, size: config.size });
  const started = performance.now();
  const loaded = await loadModel(config.model, { architecture: config.architecture });
  const model = await withInputSize(loaded.model, config.size, config.size);
  const prunable = prunableLayers(model);
  const layers = config.layers?.length ? config.layers : prunable;
  for (const l of layers) if (!prunable.includes(l)) throw unknownNameError('prunable layer', l, prunable);
  if (config.scores && !existsSync(config.scores)) throw new InputError(config.scores, 'no such folder of ablate results');
  await ensureWritableDir(config.out);
  const pairs = heldOutPhantoms(config.n, config.size, config.seed, config.undersampling);
  onEvent({ type: 'info', message: `finding dead filters of ${layers.length} layers on ${pairs.n} held-out phantoms` });
  const others = config.deadEverywhere ? prunable.filter((l) => !layers.includes(l)) : [];
  const maxima = await filterMaxima(model, pairs, [...layers, ...others], 1, config.threads);
  const selections: LayerSelection[] = others.map((l) => selectFilters(l, maxima.get(l)!, 'dead'));
  for (const [i, layer] of layers.entries()) {
    const max = maxima.get(layer)!;
    let scores: ArrayLike<number> | undefined;
    const dead = max.filter((v) => v === 0).length;
    const needed = config.keep === 'dead' ? 0 : Math.floor((1 - config.keep) * max.length + 1e-9);
    if (needed > dead) {
      scores = config.scores ? await readScores(config.scores, layer) : undefined;
      if (!scores) {
        onEvent({ type: 'info', message: `no ablation scores for ${layer}: ablating it on ${pairs.n} phantoms` });
        scores = (await ablateLayer(model, pairs, layer, { layers: [layer], residual: loaded.residual, threads: config.threads }, onEvent)).importance.map((f) => f.dPsnr);
      }
    }
    selections.push(selectFilters(layer, max, config.keep, scores));
    onEvent({ type: 'progress', done: i + 1, total: layers.length, label: `selected filters of ${layer}` });
  }
  const remove = Object.fromEntries(selections.map((s) => [s.layer, s.remove]));
  const { model: pruned, report } = await pruneFilters(model, remove);
  onEvent({ type: 'info', message: `scoring the full and the pruned model on ${pairs.n} held-out phantoms` });
  const full = await scoreOnnx(model, pairs, loaded.residual, config.threads);
  const after = await scoreOnnx(pruned, pairs, loaded.residual, config.threads);
  const sourceJson = loaded.spec === 'builtin' ? path.join(BUILTIN_MODEL_DIR, 'model.json') : existsSync(path.join(config.model, 'model.json')) ? path.join(config.model, 'model.json') : config.model;
  const meta = (config.model !== 'builtin' || existsSync(sourceJson)) && sourceJson.endsWith('.json') ? ((await readModelMetadata(sourceJson).catch(() => undefined)) ?? {}) : {};
  const previous = (meta.unetDream ?? {}) as Record<string, unknown>;
  await saveLayersModel(pruned, config.out, {
    metadata: {
      unetDream: {
        ...previous,
        residual: loaded.residual,
        pruned: { from: loaded.id, fromSha256: loaded.sha256, keep: config.keep, removed: report.removed, paramsBefore: report.paramsBefore, paramsAfter: report.paramsAfter },
      },
    } as { [key: string]: {} },
  });
  const result: PruneRunResult = { ...report, layers: selections, quality: { full, pruned: after, n: pairs.n }, modelDir: config.out, wallTimeMs: Math.round(performance.now() - started) };
  await writeFileAtomic(path.join(config.out, 'prune.json'), `${JSON.stringify({ model: loaded.id, config, ...result }, null, 2)}\n`);
  await buildReport(config.out);
  return result;
}
