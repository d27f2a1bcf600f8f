/**
 * The filters mode: for each target layer, visualise filters by gradient ascent from a seeded image,
 * then render each result as a tile and each layer as a contact sheet (the seed's figures).
 */
import path from 'node:path';
import { stripeEnergy } from '../../ascent/analysis.js';
import { parseFilterSelection } from '../../ascent/filters.js';
import { parseInit } from '../../ascent/init.js';
import { readingOf, readingsTable, summariseReadings } from '../../ascent/readings.js';
import { RECIPES, getRecipe, type SpectralSettings } from '../../ascent/recipes.js';
import { UsageError } from '../../errors.js';
import { checkDiversity, planVisualization, splitJobs, type FilterJob, type FilterResult } from '../../ascent/visualize.js';
import type { DiversitySettings } from '../../ascent/diversity.js';
import type { GradientNormalization } from '../../engine/engine.js';
import { ensureWritableDir, writeFileAtomic } from '../../io/atomic.js';
import { inputShapeOf } from '../../model/resize.js';
import { SEED_LAYERS } from '../../model/unet.js';
import { encodeAnimation, recordInterval } from '../../render/animate.js';
import { encodePng, renderSheet, renderSheetSvg } from '../../render/sheet.js';
import { WINDOW_MODES, renderTile, type RgbImage } from '../../render/tile.js';
import type { LayersModel } from '../../tf.js';
import { jobModule, runJobs } from '../../run/jobs.js';
import { defineMode } from '../../run/mode.js';
import * as job from './job.js';
import { layerSummaries, type FilterRecord } from './records.js';
import { filtersStages, type FiltersConfig } from './schema.js';

/** The config with the recipe's and the model's defaults filled in: what the manifest records. */
function resolve(config: FiltersConfig, model: LayersModel) {
  const recipe = getRecipe(config.ascend.recipe);
  const [h, w] = inputShapeOf(model);
  return {
    ...config,
    // A fixed-size model's own size, else the seed's 128.
    seed: { ...config.seed, size: config.seed.size ?? (h && w && h === w ? h : 128) },
    ascend: {
      ...config.ascend,
      layers: config.ascend.layers ?? [...SEED_LAYERS],
      steps: config.ascend.steps ?? recipe.steps,
      step: config.ascend.step ?? recipe.step,
      normalize: (config.ascend.normalize as GradientNormalization | undefined) ?? recipe.normalize,
    },
    init: config.seed.init ?? recipe.init,
    spectral: spectralSettings(config),
  };
}

/** A spectral recipe's settings with the config's `ascend.lucid` overrides; undefined for pixel recipes. */
function spectralSettings(config: FiltersConfig): SpectralSettings | undefined {
  const recipe = getRecipe(config.ascend.recipe);
  if (config.ascend.lucid && !recipe.spectral) throw new UsageError(`this setting is for a spectral recipe (lucid); recipe ${recipe.name} ascends pixels`);
  return recipe.spectral ? Object.freeze({ ...recipe.spectral, ...config.ascend.lucid }) : undefined;
}

/** The diversity settings a config asks for; undefined with one image per filter. */
function diversityOf(config: FiltersConfig): DiversitySettings | undefined {
  return config.ascend.diversity > 1 ? { copies: config.ascend.diversity, weight: config.ascend.diversityWeight } : undefined;
}

function formatActivation(v: number): string {
  return Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(2);
}

function groupByLayer(results: FilterResult[]): Map<string, FilterResult[]> {
  const groups = new Map<string, FilterResult[]>();
  for (const r of results) groups.set(r.layer, [...(groups.get(r.layer) ?? []), r]);
  return groups;
}

export const filtersMode = defineMode<FiltersConfig>({
  name: 'filters',
  description: 'per-filter visualizations from a seeded image, tiled into per-layer contact sheets',
  stages: filtersStages,
  check(config, at) {
    at(['ascend', 'recipe'], () => getRecipe(config.ascend.recipe));
    at(['seed', 'init'], () => parseInit(config.seed.init ?? RECIPES[config.ascend.recipe]?.init ?? 'uniform:0:2'));
    at(['ascend', 'filters'], () => parseFilterSelection(config.ascend.filters));
    // Each override at its own path, so a user who typed --tv reads --tv.
    for (const key of Object.keys(config.ascend.lucid ?? {})) at(['ascend', 'lucid', key], () => RECIPES[config.ascend.recipe] && spectralSettings(config));
    at(['ascend', 'diversity'], () => {
      const recipe = RECIPES[config.ascend.recipe];
      if (recipe) checkDiversity({ diversity: diversityOf(config), spectral: recipe.spectral });
    });
  },
  checkModel(model, config) {
    const c = resolve(config, model);
    planVisualization(model, { layers: c.ascend.layers, filters: parseFilterSelection(c.ascend.filters), seed: c.seed.seed, size: c.seed.size });
  },
  workers: (config) => config.ascend.workers,
  async run(ctx, config) {
    const c = resolve(config, ctx.loaded.model);
    const { init, spectral, ...recorded } = c;
    const plan = planVisualization(ctx.loaded.model, { layers: c.ascend.layers, filters: parseFilterSelection(c.ascend.filters), seed: c.seed.seed, size: c.seed.size });
    const jobs = splitJobs(plan, c.ascend.batch);
    const total = jobs.reduce((s, j) => s + j.filters.length, 0);
    let done = 0;
    const jobConfig: job.FilterJobConfig = {
      init,
      aliasing: { acceleration: c.seed.acceleration, center: c.seed.center },
      size: c.seed.size,
      steps: c.ascend.steps,
      step: c.ascend.step,
      normalize: c.ascend.normalize,
      seed: c.seed.seed,
      recordEvery: c.write.animate ? recordInterval(c.ascend.steps) : 0,
      octaves: c.ascend.octaves,
      octaveScale: c.ascend.octaveScale,
      spectral,
      position: c.ascend.neuron ? { y: c.ascend.neuron[0], x: c.ascend.neuron[1] } : undefined,
      negative: c.ascend.negative || undefined,
      diversity: diversityOf(c),
    };
    const progress = (j: FilterJob, step: number) => ctx.emit({ type: 'progress', done, total, label: `${j.layer} step ${step}/${c.ascend.steps}` });
    const perJob = await runJobs(ctx, {
      module: jobModule(import.meta.url, './job'),
      local: job,
      config: jobConfig,
      jobs,
      workers: ctx.workers,
      onProgress: progress,
      onResult: (j, r) => {
        done += r.length;
        progress(j, c.ascend.steps);
      },
    });
    // Results in job order, whatever the worker that ran them.
    const results = perJob.flatMap((r) => r ?? []);
    const records = await renderSheets(ctx.out, results, c, ctx.channels, ctx.loaded.trained);
    const layers = layerSummaries(records).map((s) => ({ ...s, ...summariseReadings(records.filter((r) => r.layer === s.layer)) }));
    ctx.emit({ type: 'table', title: `per-layer readings (${c.ascend.recipe} recipe)`, text: readingsTable(layers) });
    return { config: recorded, results: records, extra: { layers } };
  },
  summarize(manifest, config) {
    const sheets = new Set((manifest.results as FilterRecord[]).map((r) => r.file));
    return `wrote ${sheets.size} contact sheet${sheets.size === 1 ? '' : 's'} (${manifest.results.length} filters) and manifest.json to ${config.write.out} in ${(manifest.wallTimeMs / 1000).toFixed(1)} s on ${manifest.engine.engine}/${manifest.engine.backend}`;
  },
});

/**
 * render + tile + write: one contact sheet per layer (with a colour bar and a caption saying what the
 * numbers are, optionally an SVG twin), optionally every tile on its own and an animation per filter.
 */
async function renderSheets(out: string, results: FilterResult[], c: ReturnType<typeof resolve>, channels: number, trained: boolean): Promise<FilterRecord[]> {
  const size = c.seed.size;
  const records: FilterRecord[] = [];
  const windowMode = WINDOW_MODES[c.render.normalize]!;
  // Diversity: a row per filter, its N images side by side (each tile its own window, as any tile).
  const copies = c.ascend.diversity;
  for (const [layer, group] of groupByLayer(results)) {
    const images = group.map((r) => r.image);
    const windows = group.map((_, i) => windowMode.window(images, i));
    const tiles: RgbImage[] = group.map((r, i) => renderTile(r.image, size, size, channels, windows[i]!, c.render.colormap));
    const allImages = copies > 1 ? group.flatMap((r) => r.diversity!.images) : images;
    const allWindows = copies > 1 ? allImages.map((_, i) => windowMode.window(allImages, i)) : windows;
    const allTiles = copies > 1 ? allImages.map((image, i) => renderTile(image, size, size, channels, allWindows[i]!, c.render.colormap)) : tiles;
    const file = `${layer}.png`;
    const low = Math.min(...allWindows.map((w) => w.low));
    const high = Math.max(...allWindows.map((w) => w.high));
    const sheetOptions = {
      title: layer,
      subtitle: trained ? undefined : 'untrained weights',
      columns: copies > 1 ? copies : c.tile.columns,
      colorbar: {
        colormap: channels === 1 ? c.render.colormap : 'gray',
        low: windowMode.sheet ? formatActivation(low) : windowMode.ends![0],
        high: windowMode.sheet ? formatActivation(high) : windowMode.ends![1],
        label: windowMode.sheet ? 'input value' : `input value (all tiles: ${formatActivation(low)} to ${formatActivation(high)})`,
      },
      caption:
        copies > 1
          ? `A row per filter: ${copies} images ascended together with a penalty (weight ${c.ascend.diversityWeight}) on the similarity of their Gram matrices at ${layer}. Under each tile: #filter/image, then that image's mean activation after ${c.ascend.steps} steps; d: the row's mean pairwise Gram distance (0 same features, 1 none shared). Colour: ${c.render.colormap}, ${windowMode.describe}.`
          : `Under each tile: #filter index, then the filter's mean activation (the objective) after ${c.ascend.steps} ascent steps from ${c.init}; "dead": the filter had no gradient. Colour: ${c.render.colormap}, ${windowMode.describe}.`,
    };
    const sheetTiles =
      copies > 1
        ? allTiles.map((image, j) => {
            const r = group[Math.floor(j / copies)]!;
            const k = j % copies;
            const value = r.dead ? 'dead' : formatActivation(r.diversity!.ends[k]!);
            return { image, label: k === 0 ? `#${r.filter}  ${value}  d ${r.diversity!.meanDistance.toFixed(2)}` : `#${r.filter}/${k}  ${value}` };
          })
        : tiles.map((image, i) => ({ image, label: `#${group[i]!.filter}  ${group[i]!.dead ? 'dead' : formatActivation(group[i]!.activation.end)}` }));
    const { png, geometry } = await renderSheet(sheetTiles, sheetOptions);
    await writeFileAtomic(path.join(out, file), png);
    const vector = c.render.format === 'svg' ? `${layer}.svg` : undefined;
    if (vector) await writeFileAtomic(path.join(out, vector), (await renderSheetSvg(sheetTiles, sheetOptions)).svg);
    for (const [i, r] of group.entries()) {
      const { x, y } = geometry.origins[i * copies]!;
      const record: FilterRecord = {
        layer,
        filter: r.filter,
        activation: r.activation,
        file,
        rect: { x, y, width: geometry.tileWidth, height: geometry.tileHeight },
        curve: r.curve.map((v) => Number(v.toPrecision(6))),
      };
      if (vector) record.vector = vector;
      if (r.dead) record.dead = true;
      const stripes = channels === 1 ? stripeEnergy(r.image, size, size) : undefined;
      if (stripes) record.stripes = { alongX: Number(stripes.alongX.toFixed(4)), alongY: Number(stripes.alongY.toFixed(4)) };
      record.spectrum = readingOf(r.image, size, size, channels);
      if (r.octaves) record.octaves = r.octaves;
      if (r.diversity) {
        record.diversity = {
          images: r.diversity.images.length,
          weight: c.ascend.diversityWeight,
          meanGramDistance: Number(r.diversity.meanDistance.toFixed(4)),
          ends: r.diversity.ends.map((v) => Number(v.toPrecision(6))),
          rects: r.diversity.images.map((_, k) => {
            const o = geometry.origins[i * copies + k]!;
            return { x: o.x, y: o.y, width: geometry.tileWidth, height: geometry.tileHeight };
          }),
        };
      }
      if (c.write.tiles) {
        record.tile = path.join('tiles', `${layer}-${r.filter}.png`);
        await ensureWritableDir(path.join(out, 'tiles'));
        await writeFileAtomic(path.join(out, record.tile), await encodePng(tiles[i]!));
      }
      if (r.frames) {
        // Each frame in the sheet's window mode, so early noise is not washed out by the final range.
        const frames = r.frames.map((f) => renderTile(f, size, size, channels, windowMode.sheet ? windows[i]! : windowMode.window([f], 0), c.render.colormap));
        record.animation = path.join('animations', `${layer}-${r.filter}.webp`);
        await ensureWritableDir(path.join(out, 'animations'));
        await writeFileAtomic(path.join(out, record.animation), await encodeAnimation(frames));
      }
      records.push(record);
    }
  }
  return records;
}
