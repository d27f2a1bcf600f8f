/**
 * `examples`: for chosen filters, the real patches that excite them most. Each slice contributes its
 * strongest position per filter; the top k slices' patches are cropped to the unit's receptive field
 * around that position and tiled in a sheet per layer: one row per filter, the filter's synthetic
 * image (gradient ascent, the `filters` command's library call) first, then the patches, strongest
 * first. The manifest names each patch's source and position.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Engine } from '../engine/engine.js';
import type { EventSink } from '../events.js';
import type { LayersModel } from '../tf.js';
import { writeFileAtomic } from '../io/atomic.js';
import { renderSheet, type SheetTile } from '../render/sheet.js';
import { minMaxWindow, renderTile } from '../render/tile.js';
import { sizeMultiple } from '../model/input-size.js';
import { receptiveFields } from '../model/receptive-field.js';
import { parseFilterSelection, resolveFilters } from '../ascent/filters.js';
import { getRecipe } from '../ascent/recipes.js';
import { parseInit, prepareInit } from '../ascent/init.js';
import { visualizeFilters } from '../ascent/visualize.js';
import { modelChannels } from '../model/introspect.js';
import { resize } from '../ascent/resample.js';
import { modelOptions, percentileWindow } from '../activations/config-common.js';
import { checkChannelInLayers, checkLayerNames, type LayerInfo } from '../activations/model-layers.js';
import { loadSlices, padToMultiple, phantomImage, toSlice, type Slice } from '../activations/slices.js';

export const examplesConfigSchema = z
  .object({
    model: modelOptions.default({ source: 'builtin', backend: 'auto', device: 'cpu' }),
    /** Files and folders of slices; or none with `phantoms`. */
    inputs: z.array(z.string().min(1)).default([]),
    /** Generated random phantoms instead of (or besides) inputs: phantom:random:SEED+i:SIZE. */
    phantoms: z.number().int().min(1).max(100000).optional(),
    size: z.number().int().min(8).max(4096).default(256),
    include: z.string().optional(),
    layers: z.array(z.string().min(1)).min(1, 'at least one layer name'),
    filters: z.string().default('random:8'),
    top: z.number().int().min(1).max(100).default(9),
    window: percentileWindow,
    /** The filter's synthetic image first in each row (gradient ascent from noise). */
    synthetic: z.boolean().default(true),
    /** Ascent steps of the synthetic images (default: the seed recipe's 20). */
    steps: z.number().int().min(0).max(10000).optional(),
    /** Slices per forward pass. */
    batch: z.number().int().min(1).max(256).default(8),
    seed: z.number().int().min(0).default(0),
    out: z.string().min(1),
  })
  .strict();

export type ExamplesConfig = z.infer<typeof examplesConfigSchema>;

export interface Patch {
  /** The slice as named (file, file#slice=N, phantom:random:S:SIZE). */
  source: string;
  /** The unit's position on the layer's map and the centre of its receptive field in input pixels. */
  unit: [number, number];
  center: [number, number];
  /** Crop box in input pixels [x0, y0, width, height] (may extend past the edge: padded with 0). */
  crop: [number, number, number, number];
  activation: number;
}

export interface ExamplesLayerRecord {
  layer: string;
  receptiveField: { size: number; jump: number };
  stride: number;
  sheet: string;
  filters: { filter: number; synthetic?: { activation: number }; patches: Patch[] }[];
}

/** Layer names of `config` against a model's layers (peeked from its model.json, or the loaded model's). */
export function checkExamplesLayers(config: Pick<ExamplesConfig, 'layers'>, layers: readonly LayerInfo[]): void {
  checkLayerNames('layers', config.layers, layers);
}

/** A listed filter (`--filters 3,70`) exists in every chosen layer. */
export function checkExamplesFilters(config: Pick<ExamplesConfig, 'layers' | 'filters'>, layers: readonly LayerInfo[]): void {
  const selection = parseFilterSelection(config.filters);
  checkChannelInLayers('filters', selection.kind === 'list' ? Math.max(...selection.indices) : undefined, config.layers, layers);
}

interface Best {
  slice: number;
  ux: number;
  uy: number;
  value: number;
}

/** Per filter, each slice's strongest unit, keeping the `top` strongest slices. */
export async function topUnits(engine: Engine, model: LayersModel, slices: readonly Slice[], layer: string, filters: readonly number[], top: number, batch: number): Promise<{ best: Best[][]; stride: number }> {
  const best: Best[][] = filters.map(() => []);
  const divisor = sizeMultiple(model);
  let stride = 1;
  // Slices of one size go through together.
  const groups = new Map<string, number[]>();
  slices.forEach((s, i) => {
    const key = `${s.width}x${s.height}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const members of groups.values()) {
    for (let b = 0; b < members.length; b += batch) {
      const ids = members.slice(b, b + batch);
      const padded = ids.map((i) => padToMultiple(slices[i]!, divisor));
      const { width, height } = padded[0]!;
      const c = slices[ids[0]!]!.channels;
      const data = new Float32Array(ids.length * width * height * c);
      padded.forEach((p, n) => data.set(p.data, n * width * height * c));
      const [maps] = await engine.activations({ data, n: ids.length, height, width, channels: c }, [layer]);
      const m = maps!;
      stride = width / m.width;
      ids.forEach((sliceIndex, n) => {
        const slice = slices[sliceIndex]!;
        const h = Math.ceil(slice.height / stride);
        const w = Math.ceil(slice.width / stride);
        filters.forEach((f, fi) => {
          let value = -Infinity;
          let ux = 0;
          let uy = 0;
          for (let y = 0; y < h; y++) {
            for (let x = 0; x < w; x++) {
              const v = m.data[((n * m.height + y) * m.width + x) * m.channels + f]!;
              if (v > value) [value, ux, uy] = [v, x, y];
            }
          }
          const list = best[fi]!;
          list.push({ slice: sliceIndex, ux, uy, value });
          list.sort((a, c2) => c2.value - a.value || a.slice - c2.slice);
          if (list.length > top) list.pop();
        });
      });
    }
  }
  return { best, stride };
}

/** The crop of `slice` (first channel) centred on the unit, `size` pixels square, 0 outside the image. */
export function cropPatch(slice: Pick<Slice, 'data' | 'width' | 'height' | 'channels'>, ux: number, uy: number, stride: number, size: number): { data: Float32Array; crop: [number, number, number, number]; center: [number, number] } {
  const cx = (ux + 0.5) * stride - 0.5;
  const cy = (uy + 0.5) * stride - 0.5;
  const x0 = Math.round(cx - (size - 1) / 2);
  const y0 = Math.round(cy - (size - 1) / 2);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= slice.height) continue;
    for (let x = 0; x < size; x++) {
      const sx = x0 + x;
      if (sx >= 0 && sx < slice.width) data[y * size + x] = slice.data[(sy * slice.width + sx) * slice.channels]!;
    }
  }
  return { data, crop: [x0, y0, size, size], center: [cx, cy] };
}

/** What `examplesOnModel` computes with: an opened model and its engine. */
export interface OpenedEngine {
  model: LayersModel;
  engine: Engine;
}

export interface ExamplesOutput {
  slices: number;
  failures: { input: string; error: string }[];
  layers: ExamplesLayerRecord[];
}

/** Sheets of the top patches per filter on an opened model: the work of the `examples` mode. */
export async function examplesOnModel(opened: OpenedEngine, config: ExamplesConfig, emit?: EventSink): Promise<ExamplesOutput> {
  const { model, engine } = opened;
  const channels = modelChannels(model);
  const { slices, failures } = await loadSlices(config.inputs, { include: config.include, window: config.window, channels });
  for (let i = 0; i < (config.phantoms ?? 0); i++) {
    const text = `phantom:random:${config.seed + i}:${config.size}`;
    slices.push(toSlice(phantomImage(text), text, `phantom_${i}`, { window: config.window, channels }));
  }
  const selection = parseFilterSelection(config.filters);
  const fields = receptiveFields(model);
  const recipe = getRecipe('seed');
  const layers: ExamplesLayerRecord[] = [];
  for (const [li, layer] of config.layers.entries()) {
    emit?.({ type: 'progress', done: li, total: config.layers.length, label: `layer ${layer}` });
    const count = (model.getLayer(layer).outputShape as number[])[3]!;
    const filters = resolveFilters(selection, layer, count, config.seed);
    const { best, stride } = await topUnits(engine, model, slices, layer, filters, config.top, config.batch);
    const rf = fields.get(layer) ?? { size: Infinity, jump: stride };
    const size = Math.max(1, Math.min(Number.isFinite(rf.size) ? Math.ceil(rf.size) : Infinity, ...slices.map((s) => Math.max(s.width, s.height))));
    const synthetic = config.synthetic
      ? await visualizeFilters(engine, model, {
          layers: [layer],
          filters: { kind: 'list', indices: filters },
          init: await prepareInit(parseInit(recipe.init)),
          size: Math.max(64, Math.ceil(size / sizeMultiple(model)) * sizeMultiple(model)),
          steps: config.steps ?? recipe.steps,
          step: recipe.step,
          normalize: recipe.normalize,
          seed: config.seed,
          batch: 1,
        })
      : [];
    const tiles: SheetTile[] = [];
    const records: ExamplesLayerRecord['filters'] = [];
    filters.forEach((f, fi) => {
      const row: ExamplesLayerRecord['filters'][number] = { filter: f, patches: [] };
      const synth = synthetic.find((r) => r.layer === layer && r.filter === f);
      if (synth) {
        const side = Math.round(Math.sqrt(synth.image.length / channels));
        const grey = Float32Array.from({ length: side * side }, (_, p) => synth.image[p * channels]!);
        const small = resize({ data: grey, width: side, height: side, channels: 1 }, size, size).data;
        tiles.push({ image: renderTile(small, size, size, 1, minMaxWindow(small), 'gray'), label: `#${f} synthetic` });
        row.synthetic = { activation: synth.activation.end };
      }
      for (let k = 0; k < config.top; k++) {
        const b = best[fi]![k];
        if (!b) {
          tiles.push({ image: renderTile(new Float32Array(size * size), size, size, 1, { low: 0, high: 1 }, 'gray'), label: '' });
          continue;
        }
        const slice = slices[b.slice]!;
        const patch = cropPatch(slice, b.ux, b.uy, stride, size);
        tiles.push({ image: renderTile(patch.data, size, size, 1, { low: 0, high: 1 }, 'gray'), label: b.value.toPrecision(3) });
        row.patches.push({ source: slice.input, unit: [b.ux, b.uy], center: patch.center, crop: patch.crop, activation: b.value });
      }
      records.push(row);
    });
    const sheet = `examples_${layer}.png`;
    const rendered = await renderSheet(tiles, {
      title: `${layer}: top ${config.top} of ${slices.length} slices per filter`,
      subtitle: `${config.synthetic ? 'synthetic image, then ' : ''}patches of ${size}x${size} px (receptive field), activation`,
      columns: config.top + (config.synthetic ? 1 : 0),
      minTileSize: 80,
    });
    await writeFileAtomic(path.join(config.out, sheet), rendered.png);
    layers.push({ layer, receptiveField: { size: rf.size, jump: rf.jump }, stride, sheet, filters: records });
  }
  return { slices: slices.length, failures, layers };
}
