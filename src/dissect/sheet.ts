/**
 * One sheet per layer, filters sorted by aliasing IoU: each tile shows what the filter wants (a
 * synthetic image from the existing filter visualisation), how it fires on the image where its mask
 * best overlaps the aliasing, and that image's aliasing map |zero-filled - target|.
 */
import type { Engine } from '../engine/engine.js';
import type { LayersModel } from '../tf.js';
import { resize } from '../ascent/resample.js';
import { visualizeFilters } from '../ascent/visualize.js';
import { parseInit, prepareInit } from '../ascent/init.js';
import { minMaxWindow, renderTile, type RgbImage } from '../render/tile.js';
import { renderSheet } from '../render/sheet.js';
import { ForwardRunner } from './forward-graph.js';
import { upsample } from './masks.js';
import type { PairSet } from './data.js';
import type { DissectResult } from './dissect.js';

export interface SheetConfig {
  /** Filters shown per layer, best aliasing IoU first (default 16). */
  top?: number;
  /** Ascent steps of the synthetic images (default 20, the seed's). */
  steps?: number;
  /** Panel side in pixels (default 64). */
  tile?: number;
  seed?: number;
}

function sideBySide(panels: RgbImage[]): RgbImage {
  const { width: w, height: h } = panels[0]!;
  const out = new Uint8Array(panels.length * w * h * 3);
  panels.forEach((p, k) => {
    for (let y = 0; y < h; y++) out.set(p.data.subarray(y * w * 3, (y + 1) * w * 3), (y * panels.length * w + k * w) * 3);
  });
  return { data: out, width: panels.length * w, height: h };
}

const shrink = (data: Float32Array, from: number, to: number) => resize({ data, width: from, height: from, channels: 1 }, to, to).data;

/** PNG bytes per layer. */
export async function renderDissectSheets(
  model: LayersModel,
  engine: Engine,
  pairs: PairSet,
  result: DissectResult,
  config: SheetConfig = {},
  onLayer?: (layer: string, done: number, total: number) => void,
): Promise<Map<string, Buffer>> {
  const top = config.top ?? 16;
  const tile = config.tile ?? 64;
  const init = await prepareInit(parseInit('uniform:0:2'));
  const sheets = new Map<string, Buffer>();
  const pixels = pairs.size * pairs.size;
  for (const [index, layer] of result.layers.entries()) {
    const shown = [...layer.units].filter((u) => u.label !== 'dead').sort((a, b) => b.aliasingIoU - a.aliasingIoU).slice(0, top);
    if (shown.length === 0) continue;
    const synthetic = await visualizeFilters(engine, model, {
      layers: [layer.layer],
      filters: { kind: 'list', indices: shown.map((u) => u.filter) },
      init,
      size: tile,
      steps: config.steps ?? 20,
      step: 1,
      normalize: 'rms',
      seed: config.seed ?? 0,
      batch: shown.length,
    });
    // Feature maps on each shown filter's best image.
    const images = [...new Set(shown.map((u) => u.bestImage))];
    const runner = await ForwardRunner.create(model, { outputs: [layer.layer] });
    const maps = new Map<number, { data: Float32Array; dims: number[] }>();
    try {
      for (const i of images) maps.set(i, (await runner.run({ input: { data: pairs.inputs.subarray(i * pixels, (i + 1) * pixels), dims: [1, pairs.size, pairs.size, 1] } }))[layer.layer]!);
    } finally {
      await runner.dispose();
    }
    const tiles = shown.map((u, k) => {
      const { data, dims } = maps.get(u.bestImage)!;
      const side = dims[2]!;
      const plane = data.subarray(u.filter * side * side, (u.filter + 1) * side * side);
      const act = shrink(upsample(plane, side, pairs.size), pairs.size, tile);
      const zf = pairs.inputs.subarray(u.bestImage * pixels, (u.bestImage + 1) * pixels);
      const t = pairs.targets.subarray(u.bestImage * pixels, (u.bestImage + 1) * pixels);
      const alias = shrink(zf.map((v, p) => Math.abs(v - t[p]!)), pairs.size, tile);
      const syn = synthetic[k]!.image;
      return {
        image: sideBySide([renderTile(syn, tile, tile, 1, minMaxWindow(syn), 'gray'), renderTile(act, tile, tile, 1, minMaxWindow(act), 'magma'), renderTile(alias, tile, tile, 1, minMaxWindow(alias), 'gray')]),
        // Short enough for a 3-panel tile: filter, label, aliasing IoU / edge IoU.
        label: `#${u.filter} ${u.label} ${u.aliasingIoU.toFixed(3).slice(1)}/${u.edgeIoU.toFixed(3).slice(1)}`,
      };
    });
    const { png } = await renderSheet(tiles, {
      title: `${layer.layer}: top ${shown.length} of ${layer.filters} filters by aliasing IoU`,
      columns: 4,
      minTileSize: tile,
    });
    sheets.set(layer.layer, png);
    onLayer?.(layer.layer, index + 1, result.layers.length);
  }
  return sheets;
}
