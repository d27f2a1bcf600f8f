/**
 * `activations`: the feature maps of chosen layers on real slices, as contact sheets (channel index
 * and mean activation under each map) and as raw float32 maps numpy and nibabel open directly: a
 * `.npy` of shape [channels, height, width] per slice and layer, and, for NIfTI and DICOM inputs, a
 * NIfTI volume with one channel per slice in the input's geometry scaled to the layer's resolution.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Engine, LayerMaps } from '../engine/engine.js';
import type { EventSink } from '../events.js';
import type { LayersModel } from '../tf.js';
import { writeFileAtomic } from '../io/atomic.js';
import { createImage } from '../io/image.js';
import { writeNpy } from '../io/npy.js';
import { writeImages } from '../io/write.js';
import { COLORMAPS } from '../render/colormap.js';
import { renderSheet, type SheetTile } from '../render/sheet.js';
import { minMaxWindow, renderTile } from '../render/tile.js';
import { sizeMultiple } from '../model/input-size.js';
import { modelChannels } from '../model/introspect.js';
import { modelOptions, percentileWindow } from './config-common.js';
import { checkChannelInLayers, checkLayerNames, type LayerInfo } from './model-layers.js';
import { maxListedChannel, parseChannelSelection, resolveChannels } from './selection.js';
import { loadSlices, padToMultiple, type Slice, type SliceFailure } from './slices.js';
import { scaledGeometry } from './geometry.js';

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

/** Layer names of `config` against a model's layers (peeked from its model.json, or the loaded model's). */
export function checkActivationsLayers(config: Pick<ActivationsConfig, 'layers'>, layers: readonly LayerInfo[]): void {
  checkLayerNames('layers', config.layers, layers);
}

/** A listed channel (`--channels 3,70`) exists in every chosen layer. */
export function checkActivationsChannels(config: Pick<ActivationsConfig, 'layers' | 'channels'>, layers: readonly LayerInfo[]): void {
  checkChannelInLayers('channels', maxListedChannel(parseChannelSelection(config.channels, 'channels')), config.layers, layers);
}

/**
 * Channel-first [C, h, w] copy of image n, cropped to h x w (drops the padding's rows and columns).
 * Transposed in runs of 16 pixels per channel: reading NHWC channel by channel over a whole row
 * strides through memory; a run keeps its source rows in cache (3-10x faster on 256x256x64 maps).
 */
export function channelFirst(maps: LayerMaps, n: number, height: number, width: number): Float32Array {
  const c = maps.channels;
  const plane = height * width;
  const out = new Float32Array(c * plane);
  const src = maps.data;
  const RUN = 16;
  for (let y = 0; y < height; y++) {
    const rowIn = (n * maps.height + y) * maps.width * c;
    const rowOut = y * width;
    for (let x0 = 0; x0 < width; x0 += RUN) {
      const x1 = Math.min(width, x0 + RUN);
      for (let k = 0; k < c; k++) {
        const o = k * plane + rowOut;
        for (let x = x0, i = rowIn + x0 * c + k; x < x1; x++, i += c) out[o + x] = src[i]!;
      }
    }
  }
  return out;
}

/** Mean of each channel of channel-first maps [C, plane]. */
export function planeMeans(data: Float32Array, channels: number, plane: number): Float32Array {
  const means = new Float32Array(channels);
  for (let k = 0; k < channels; k++) {
    let s = 0;
    for (let p = k * plane, end = p + plane; p < end; p++) s += data[p]!;
    means[k] = s / plane;
  }
  return means;
}

/** One layer's maps on one slice: cropped to the slice's own pixels, channel first. */
export interface SliceLayerMaps {
  layer: string;
  height: number;
  width: number;
  channels: number;
  /** Input pixels per map pixel [x, y]. */
  stride: [number, number];
  /** [channels, height, width]. */
  data: Float32Array;
}

/** Feature maps of one slice for every layer: one forward pass, every layer an output of the one graph. */
export async function sliceActivations(engine: Engine, model: LayersModel, slice: Slice, layers: readonly string[]): Promise<SliceLayerMaps[]> {
  const padded = padToMultiple(slice, sizeMultiple(model));
  const maps = await engine.activations({ data: padded.data, n: 1, height: padded.height, width: padded.width, channels: slice.channels }, layers);
  return maps.map((m, i) => {
    const sy = padded.height / m.height;
    const sx = padded.width / m.width;
    const height = Math.ceil(slice.height / sy);
    const width = Math.ceil(slice.width / sx);
    return { layer: layers[i]!, height, width, channels: m.channels, stride: [sx, sy] as [number, number], data: channelFirst(m, 0, height, width) };
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

/** Sheet, .npy and (for NIfTI and DICOM inputs) NIfTI volume of one layer on one slice. */
async function writeLayer(slice: Slice, l: SliceLayerMaps, config: ActivationsConfig, shownOf: (means: Float32Array) => number[]): Promise<ActivationsLayerRecord> {
  const c = l.channels;
  const plane = l.height * l.width;
  const means = planeMeans(l.data, c, plane);
  const shown = shownOf(means);
  const base = `${slice.name}_${l.layer}`;
  const tiles: SheetTile[] = shown.map((k) => {
    const map = l.data.subarray(k * plane, (k + 1) * plane);
    return { image: renderTile(map, l.width, l.height, 1, minMaxWindow(map), config.colormap), label: `#${k} ${fmt(means[k]!)}` };
  });
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
  // The sheet's PNG is encoded off the main thread (sharp); the raw files are written meanwhile.
  const writes: Promise<unknown>[] = [
    renderSheet(tiles, { title: `${l.layer} on ${slice.name}`, subtitle: `${l.width}x${l.height}, channel #, mean activation`, columns: config.columns }).then((sheet) =>
      writeFileAtomic(path.join(config.out, record.sheet), sheet.png),
    ),
    writeNpy(path.join(config.out, record.npy), l.data, [c, l.height, l.width]),
  ];
  const geometry = slice.source.meta.geometry;
  if (config.raw === 'nifti' && geometry && (slice.source.meta.format === 'nifti' || slice.source.meta.format === 'dicom')) {
    const images = Array.from({ length: c }, (_, k) =>
      createImage(l.width, l.height, 1, l.data.subarray(k * plane, (k + 1) * plane), {
        format: 'nifti',
        source: slice.source.meta.source,
        nifti: slice.source.meta.nifti,
        geometry: scaledGeometry(geometry, l.stride[0], l.stride[1], k),
      }),
    );
    record.nifti = `${base}.nii.gz`;
    writes.push(writeImages(images, path.join(config.out, record.nifti), { bitDepth: 32, description: `unet-dream activations ${l.layer}` }));
  }
  await Promise.all(writes);
  return record;
}

/**
 * Sheets and raw maps of every slice of `config.inputs` on an opened model (the layers and channels
 * already checked against it): the work of the `activations` mode. One forward pass per slice gives
 * every layer; the layers' sheets and files are then written concurrently.
 */
export async function activationsOnModel(opened: OpenedEngine, config: ActivationsConfig, emit?: EventSink): Promise<ActivationsRecord[]> {
  const selection = parseChannelSelection(config.channels);
  const { slices, failures } = await loadSlices(config.inputs, { include: config.include, window: config.window, channels: modelChannels(opened.model) });
  const results: ActivationsRecord[] = failures.map((f: SliceFailure) => ({ input: f.input, error: f.error }));
  for (const [index, slice] of slices.entries()) {
    emit?.({ type: 'progress', done: index, total: slices.length, label: slice.input });
    const layers = await sliceActivations(opened.engine, opened.model, slice, config.layers);
    const records = await Promise.all(layers.map((l) => writeLayer(slice, l, config, (means) => resolveChannels(selection, l.layer, l.channels, config.seed, means))));
    results.push({ input: slice.input, layers: records });
  }
  return results;
}
