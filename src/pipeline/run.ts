/**
 * Runs a validated pipeline: model -> seed -> ascend -> render -> tile -> write. Heavy work starts
 * only here, after validatePipeline accepted the whole config.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../model/load.js';
import { inputShapeOf } from '../model/resize.js';
import type { LayersModel } from '../engine/tf.js';
import { createEngine } from '../engine/select.js';
import { modelChannels, planVisualization, visualizeFilters, type FilterResult, type VisualizeProgress } from '../ascent/visualize.js';
import { visualizeFiltersParallel } from '../ascent/parallel.js';
import type { BackendChoice } from '../engine/backend.js';
import { planParallelism } from '../engine/engine.js';
import os from 'node:os';
import { minMaxWindow, renderTile, type RgbImage, type Window } from '../render/tile.js';
import { encodePng, renderSheet } from '../render/sheet.js';
import { packageVersions, writeManifest, type Manifest } from './manifest.js';
import type { ValidatedPipeline } from './validate.js';
import type { EventSink } from './events.js';
import { runDream, type DreamConfig, type DreamRunOptions } from './dream-run.js';
import { prepareInit } from '../ascent/init.js';
import { stripeEnergy, type StripeEnergy } from '../ascent/analysis.js';
import { readingOf, summariseReadings, readingsTable, type SpectrumRecord } from '../ascent/readings.js';
import type { OctaveRecord } from '../ascent/octaves.js';

export interface FilterRecord {
  layer: string;
  filter: number;
  activation: { start: number; end: number };
  /** Present and true when the filter had no gradient at all (a dead unit on this start). */
  dead?: boolean;
  /** Spectral energy shares of the final image: variation along x (vertical stripes) and along y. */
  stripes?: StripeEnergy;
  /** The final image's spectrum: high-frequency share, orientation shares, dominant angle, histogram. */
  spectrum?: SpectrumRecord;
  /** Multi-octave or spectral runs: each octave's size and objective at its start and end. */
  octaves?: OctaveRecord[];
  /** The layer's contact sheet. */
  file: string;
  /** This filter's own PNG, with `tiles`. */
  tile?: string;
}

export interface RunOptions extends DreamRunOptions {
  command: string;
  onEvent?: EventSink;
  /** Fault injection for tests: one worker dies on its first job (see ascent/filter-worker.ts). */
  dieOnceMarker?: string;
}

function formatActivation(v: number): string {
  return Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(2);
}

export interface LayerSummary {
  layer: string;
  filters: number;
  dead: number;
  meanActivationGain: number;
  /** Filters whose image varies mostly along x (alongX > 2 alongY): vertical line detectors. */
  vertical: number;
  /** ... mostly along y: horizontal line detectors. */
  horizontal: number;
  meanAlongX: number;
  meanAlongY: number;
}

/** Per-layer figures: how many filters are line detectors in each direction, how many are dead. */
function layerSummaries(records: FilterRecord[]): LayerSummary[] {
  const layers = [...new Set(records.map((r) => r.layer))];
  return layers.map((layer) => {
    const rs = records.filter((r) => r.layer === layer);
    const live = rs.filter((r) => !r.dead);
    const withStripes = live.filter((r) => r.stripes);
    const mean = (f: (r: FilterRecord) => number, of: FilterRecord[]) => (of.length ? Number((of.reduce((s, r) => s + f(r), 0) / of.length).toFixed(4)) : 0);
    return {
      layer,
      filters: rs.length,
      dead: rs.length - live.length,
      meanActivationGain: mean((r) => r.activation.end - r.activation.start, live),
      vertical: withStripes.filter((r) => r.stripes!.alongX > 2 * r.stripes!.alongY).length,
      horizontal: withStripes.filter((r) => r.stripes!.alongY > 2 * r.stripes!.alongX).length,
      meanAlongX: mean((r) => r.stripes!.alongX, withStripes),
      meanAlongY: mean((r) => r.stripes!.alongY, withStripes),
    };
  });
}

/** A fixed-size model's own size, else the seed's 128. */
function defaultSize(model: LayersModel): number {
  const [h, w] = inputShapeOf(model);
  return h && w && h === w ? h : 128;
}

function groupByLayer(results: FilterResult[]): Map<string, FilterResult[]> {
  const groups = new Map<string, FilterResult[]>();
  for (const r of results) groups.set(r.layer, [...(groups.get(r.layer) ?? []), r]);
  return groups;
}

export async function runPipeline(pipeline: ValidatedPipeline, options: RunOptions): Promise<Manifest> {
  if (pipeline.mode === 'dream') return runDream(dreamConfigOf(pipeline), options);
  return runFilters(pipeline, options);
}

/** The dream runner's settings from a validated pipeline. */
export function dreamConfigOf(pipeline: ValidatedPipeline): DreamConfig {
  const { config: c } = pipeline;
  return {
    model: { source: c.model.source, architecture: c.model.architecture, backend: c.model.backend, threads: c.model.threads, device: c.model.device },
    inputs: c.seed.inputs ?? [],
    include: c.seed.include,
    axis: c.seed.axis,
    volume: c.seed.volume,
    layers: pipeline.layers.join(','),
    objective: c.ascend.objective,
    octaves: c.ascend.octaves ?? 4,
    octaveScale: c.ascend.octaveScale ?? 1.4,
    steps: pipeline.steps,
    step: pipeline.step,
    normalize: pipeline.normalize,
    jitter: c.ascend.jitter,
    tile: c.ascend.tile,
    halo: c.ascend.halo,
    color: c.ascend.color,
    window: { low: c.seed.window[0], high: c.seed.window[1] },
    format: c.write.format,
    out: c.write.out,
    seed: c.seed.seed,
  };
}

async function runFilters(pipeline: ValidatedPipeline, options: RunOptions): Promise<Manifest> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const emit = options.onEvent ?? (() => undefined);
  const { config } = pipeline;
  const out = config.write.out;
  await ensureWritableDir(out);

  // model
  const loaded = await loadModel(config.model.source, { architecture: config.model.architecture });
  const size = config.seed.size ?? defaultSize(loaded.model);
  emit({ type: 'info', message: `model ${loaded.id} (sha256 ${loaded.sha256.slice(0, 12)}): ${loaded.note}` });
  // Everything about layers, filters and size is checked against the model before the engine starts.
  planVisualization(loaded.model, { layers: pipeline.layers, filters: pipeline.filters, seed: config.seed.seed, size });
  if (!loaded.trained) emit({ type: 'warn', message: 'the builtin U-Net is not trained yet: its filters show an initialisation, not learned features' });
  const cores = os.availableParallelism();
  const { engine, skipped, fallback } = await createEngine(loaded.model, config.model.backend, {
    threads: config.model.threads ?? planParallelism('onnx', config.ascend.workers, cores).threads,
    device: config.model.device,
  });
  for (const s of skipped) emit({ type: 'info', message: `backend skipped: ${s}` });
  if (fallback) emit({ type: 'warn', message: fallback });
  const plan = planParallelism(engine.info.engine, config.ascend.workers, cores);
  const workers = plan.workers;
  const threads = config.model.threads ?? plan.threads;
  emit({ type: 'info', message: `engine ${engine.info.engine} on ${engine.info.backend} (${engine.info.provider}), ${workers} worker${workers === 1 ? '' : 's'}` });

  // seed + ascend
  const aliasing = { acceleration: config.seed.acceleration, center: config.seed.center };
  const visualizeOptions = {
    layers: pipeline.layers,
    filters: pipeline.filters,
    init: await prepareInit(pipeline.init, aliasing),
    size,
    steps: pipeline.steps,
    step: pipeline.step,
    normalize: pipeline.normalize,
    seed: config.seed.seed,
    batch: config.ascend.batch,
    octaves: config.ascend.octaves ?? 1,
    octaveScale: config.ascend.octaveScale ?? 1.4,
    spectral: pipeline.spectral,
    position: config.ascend.neuron ? { y: config.ascend.neuron[0], x: config.ascend.neuron[1] } : undefined,
    negative: config.ascend.negative || undefined,
  };
  const onProgress = (p: VisualizeProgress) => emit({ type: 'progress', done: p.done, total: p.total, label: `${p.layer} step ${p.step}/${p.steps}` });
  let results: FilterResult[];
  try {
    results =
      workers > 1
        ? await visualizeFiltersParallel(
            loaded.model,
            visualizeOptions,
            {
              workers,
              init: pipeline.init.text,
              aliasing,
              model: config.model.source,
              architecture: config.model.architecture,
              backend: engine.info.engine === 'tfjs' ? (engine.info.backend as BackendChoice) : 'onnx',
              threads,
              device: config.model.device,
              onWorkerDied: (message) => emit({ type: 'warn', message }),
              dieOnceMarker: options.dieOnceMarker,
            },
            onProgress,
          )
        : await visualizeFilters(engine, loaded.model, visualizeOptions, onProgress);
  } finally {
    engine.dispose();
  }

  // render + tile + write
  const channels = modelChannels(loaded.model);
  const records: FilterRecord[] = [];
  for (const [layer, group] of groupByLayer(results)) {
    const sheetWindow: Window | undefined = config.render.normalize === 'sheet' ? minMaxWindow(...group.map((r) => r.image)) : undefined;
    const tiles: RgbImage[] = group.map((r) =>
      renderTile(r.image, size, size, channels, sheetWindow ?? minMaxWindow(r.image), config.render.colormap),
    );
    const file = `${layer}.png`;
    const { png } = await renderSheet(
      tiles.map((image, i) => ({ image, label: `#${group[i]!.filter}  ${group[i]!.dead ? 'dead' : formatActivation(group[i]!.activation.end)}` })),
      { title: layer, subtitle: loaded.trained ? undefined : 'untrained weights', columns: config.tile.columns },
    );
    await writeFileAtomic(path.join(out, file), png);
    for (let i = 0; i < group.length; i++) {
      const r = group[i]!;
      const record: FilterRecord = { layer, filter: r.filter, activation: r.activation, file };
      if (r.dead) record.dead = true;
      const stripes = channels === 1 ? stripeEnergy(r.image, size, size) : undefined;
      if (stripes) record.stripes = { alongX: Number(stripes.alongX.toFixed(4)), alongY: Number(stripes.alongY.toFixed(4)) };
      record.spectrum = readingOf(r.image, size, size, channels);
      if (r.octaves) record.octaves = r.octaves;
      if (config.write.tiles) {
        record.tile = path.join('tiles', `${layer}-${r.filter}.png`);
        await ensureWritableDir(path.join(out, 'tiles'));
        await writeFileAtomic(path.join(out, record.tile), await encodePng(tiles[i]!));
      }
      records.push(record);
    }
  }

  const manifest: Manifest = {
    command: options.command,
    config: { ...config, seed: { ...config.seed, size }, ascend: { ...config.ascend, layers: [...pipeline.layers], steps: pipeline.steps, step: pipeline.step, normalize: pipeline.normalize } },
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    engine: { ...engine.info, ...(engine.stats ? { stats: engine.stats() } : {}) },
    versions: packageVersions(),
    seed: config.seed.seed,
    startedAt,
    wallTimeMs: Math.round(performance.now() - started),
    results: records,
    layers: layerSummaries(records).map((s) => ({ ...s, ...summariseReadings(records.filter((r) => r.layer === s.layer)) })),
  };
  emit({ type: 'table', title: `per-layer readings (${pipeline.recipe.name} recipe)`, text: readingsTable(manifest.layers as Parameters<typeof readingsTable>[0]) });
  await writeManifest(out, manifest);
  return manifest;
}
