/**
 * `activations`: the feature maps of chosen layers on real slices, as contact sheets (channel index
 * and mean activation under each map) and as raw float32 maps numpy and nibabel open directly: a
 * `.npy` of shape [channels, height, width] per slice and layer, and, for NIfTI and DICOM inputs, a
 * NIfTI volume with one channel per slice in the input's geometry scaled to the layer's resolution.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Engine, LayerMaps } from '../engine/engine.js';
import type { LayersModel } from '../tf.js';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import { createImage } from '../io/image.js';
import { writeNpy } from '../io/npy.js';
import { writeImages } from '../io/write.js';
import { COLORMAPS } from '../render/colormap.js';
import { renderSheet, type SheetTile } from '../render/sheet.js';
import { minMaxWindow, renderTile } from '../render/tile.js';
import { sizeMultiple } from '../model/input-size.js';
import { modelChannels } from '../model/introspect.js';
import { modelOptions, parseConfig, percentileWindow } from './config-common.js';
import { checkChannel, checkLayerName, layersFromModel, peekModelLayers, type LayerInfo } from './model-layers.js';
import { maxListedChannel, parseChannelSelection, resolveChannels, type ChannelSelection } from './selection.js';
import { checkPhantomInput, isPhantomInput, loadSlices, padToMultiple, type Slice, type SliceFailure } from './slices.js';
import { scaledGeometry } from './geometry.js';
import { openModel, type RealSliceEvent, type OpenedModel } from './run-context.js';

export const activationsConfigSchema = z
  .object({
    model: modelOptions.default({ source: 'builtin', backend: 'auto', device: 'cpu' }),
    /** Files, folders, `file.nii.gz#z=40` slices, `phantom:shepp-logan[:SIZE]`, `phantom:random:SEED[:SIZE]`. */
    inputs: z.array(z.string().min(1)).min(1, 'at least one input'),
    include: z.string().optional(),
    layers: z.array(z.string().min(1)).min(1, 'at least one layer name'),
    /** 0-15 | 3,5,9 | random:N | top:N | all: the channels shown on the sheet (the raw maps hold all). */
    channels: z.string().default('0-15'),
    window: percentileWindow,
    colormap: z.enum(COLORMAPS as [string, ...string[]]).default('viridis'),
    columns: z.number().int().min(1).max(64).default(8),
    /** Raw maps: .npy always; `nifti` adds a float32 NIfTI volume for inputs with a geometry. */
    raw: z.enum(['npy', 'nifti']).default('nifti'),
    seed: z.number().int().min(0).default(0),
    out: z.string().min(1),
  })
  .strict();

export type ActivationsConfig = z.infer<typeof activationsConfigSchema>;

export interface ActivationsLayerRecord {
  layer: string;
  /** Map size and the input pixels per map pixel. */
  height: number;
  width: number;
  channels: number;
  stride: [number, number];
  /** Channels on the sheet, with their mean activation on this slice. */
  shown: { channel: number; mean: number }[];
  sheet: string;
  npy: string;
  nifti?: string;
}

export interface ActivationsRecord {
  input: string;
  layers?: ActivationsLayerRecord[];
  error?: string;
}

export interface ActivationsResult {
  config: ActivationsConfig;
  model: OpenedModel['info'];
  results: ActivationsRecord[];
  wallTimeMs: number;
}

/** Checks everything that can be checked without the model's weights (exit 2 on a problem). */
export async function validateActivations(raw: unknown): Promise<{ config: ActivationsConfig; selection: ChannelSelection; peeked?: LayerInfo[] }> {
  const config = parseConfig(activationsConfigSchema, raw);
  const selection = parseChannelSelection(config.channels);
  config.inputs.filter(isPhantomInput).forEach(checkPhantomInput);
  const peeked = await peekModelLayers(config.model.source);
  if (peeked) checkAgainstLayers(config, selection, peeked);
  return { config, selection, peeked };
}

function checkAgainstLayers(config: ActivationsConfig, selection: ChannelSelection, layers: LayerInfo[]): void {
  const top = maxListedChannel(selection);
  for (const name of config.layers) {
    const info = checkLayerName('--layers', name, layers);
    if (top !== undefined) checkChannel('--channels', info, top);
  }
}

/** Mean of each channel of image `n` of a map. */
export function channelMeans(maps: LayerMaps, n = 0, height = maps.height, width = maps.width): Float32Array {
  const means = new Float64Array(maps.channels);
  const c = maps.channels;
  for (let y = 0; y < height; y++) {
    const row = ((n * maps.height + y) * maps.width) * c;
    for (let x = 0; x < width; x++) for (let k = 0; k < c; k++) means[k]! += maps.data[row + x * c + k]!;
  }
  return Float32Array.from(means, (s) => s / (height * width));
}

/** Channel-first [C, h, w] copy of image n, cropped to h x w (drops the padding's rows and columns). */
export function channelFirst(maps: LayerMaps, n: number, height: number, width: number): Float32Array {
  const c = maps.channels;
  const out = new Float32Array(c * height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const src = ((n * maps.height + y) * maps.width + x) * c;
      for (let k = 0; k < c; k++) out[(k * height + y) * width + x] = maps.data[src + k]!;
    }
  }
  return out;
}

/** Feature maps of one slice for every layer, each cropped to the part that covers the slice's own pixels. */
export async function sliceActivations(engine: Engine, model: LayersModel, slice: Slice, layers: readonly string[]) {
  const padded = padToMultiple(slice, sizeMultiple(model));
  const maps = await engine.activations({ data: padded.data, n: 1, height: padded.height, width: padded.width, channels: slice.channels }, layers);
  return maps.map((m, i) => {
    const sy = padded.height / m.height;
    const sx = padded.width / m.width;
    const height = Math.ceil(slice.height / sy);
    const width = Math.ceil(slice.width / sx);
    return { layer: layers[i]!, maps: m, height, width, stride: [sx, sy] as [number, number], data: channelFirst(m, 0, height, width) };
  });
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : v.toPrecision(3);
}

/** What the three real-slice analyses compute with: an opened model and its engine. */
export interface OpenedEngine {
  model: LayersModel;
  engine: Engine;
}

/**
 * Sheets and raw maps of every slice of `config.inputs` on an opened model (the layers and channels
 * already checked against it): the work of `runActivations` and of the `activations` mode.
 */
export async function activationsOnModel(opened: OpenedEngine, config: ActivationsConfig, onEvent?: (e: RealSliceEvent) => void): Promise<ActivationsRecord[]> {
  const selection = parseChannelSelection(config.channels);
  const { slices, failures } = await loadSlices(config.inputs, { include: config.include, window: config.window, channels: modelChannels(opened.model) });
  const results: ActivationsRecord[] = failures.map((f: SliceFailure) => ({ input: f.input, error: f.error }));
  for (const [index, slice] of slices.entries()) {
    onEvent?.({ type: 'slice', input: slice.input, index, total: slices.length });
    const layers = await sliceActivations(opened.engine, opened.model, slice, config.layers);
    const records: ActivationsLayerRecord[] = [];
    for (const l of layers) {
      const c = l.maps.channels;
      const means = channelMeans(l.maps, 0, l.height, l.width);
      const shown = resolveChannels(selection, l.layer, c, config.seed, means);
      const plane = l.height * l.width;
      const tiles: SheetTile[] = shown.map((k) => {
        const map = l.data.subarray(k * plane, (k + 1) * plane);
        return { image: renderTile(map, l.width, l.height, 1, minMaxWindow(map), config.colormap), label: `#${k} ${fmt(means[k]!)}` };
      });
      const base = `${slice.name}_${l.layer}`;
      const sheet = await renderSheet(tiles, { title: `${l.layer} on ${slice.name}`, subtitle: `${l.width}x${l.height}, channel #, mean activation`, columns: config.columns });
      await writeFileAtomic(path.join(config.out, `${base}.png`), sheet.png);
      await writeNpy(path.join(config.out, `${base}.npy`), l.data, [c, l.height, l.width]);
      const record: ActivationsLayerRecord = {
        layer: l.layer,
        height: l.height,
        width: l.width,
        channels: c,
        stride: l.stride,
        shown: shown.map((k) => ({ channel: k, mean: means[k]! })),
        sheet: `${base}.png`,
        npy: `${base}.npy`,
      };
      const geometry = slice.source.meta.geometry;
      if (config.raw === 'nifti' && geometry && (slice.source.meta.format === 'nifti' || slice.source.meta.format === 'dicom')) {
        const images = Array.from({ length: c }, (_, k) =>
          createImage(l.width, l.height, 1, l.data.slice(k * plane, (k + 1) * plane), {
            format: 'nifti',
            source: slice.source.meta.source,
            nifti: slice.source.meta.nifti,
            geometry: scaledGeometry(geometry, l.stride[0], l.stride[1], k),
          }),
        );
        await writeImages(images, path.join(config.out, `${base}.nii.gz`), { bitDepth: 32, description: `unet-dream activations ${l.layer}` });
        record.nifti = `${base}.nii.gz`;
      }
      records.push(record);
    }
    results.push({ input: slice.input, layers: records });
  }
  return results;
}

/** Layer names and listed channels of `config` against the loaded model (UsageError naming the option). */
export function checkActivationsModel(model: LayersModel, config: ActivationsConfig): void {
  checkAgainstLayers(config, parseChannelSelection(config.channels), layersFromModel(model));
}

export async function runActivations(raw: unknown, onEvent?: (e: RealSliceEvent) => void): Promise<ActivationsResult> {
  const start = performance.now();
  const { config, peeked } = await validateActivations(raw);
  await ensureWritableDir(config.out);
  const opened = await openModel(config.model, onEvent);
  try {
    if (!peeked) checkActivationsModel(opened.model, config);
    const results = await activationsOnModel(opened, config, onEvent);
    const result = { config, model: opened.info, results, wallTimeMs: performance.now() - start };
    await writeFileAtomic(path.join(config.out, 'manifest.json'), `${JSON.stringify({ command: 'activations', ...result }, null, 2)}\n`);
    return result;
  } finally {
    opened.engine.dispose();
  }
}
