/**
 * `attribute`: which input pixels drive a target of the network (its output, a region of it, or a
 * filter), by the methods in methods.ts. Per slice: an overlay PNG, the raw map as .npy, and the map
 * in the input's own format where it has one (NIfTI with the source geometry, DICOM as a derived
 * object) so it overlays in MR viewers.
 */
import path from 'node:path';
import { z } from 'zod';
import { UsageError, invalidParameterError } from '../errors.js';
import type { EventSink } from '../events.js';
import { writeFileAtomic } from '../io/atomic.js';
import { createImage } from '../io/image.js';
import { writeNpy } from '../io/npy.js';
import { writeImage } from '../io/write.js';
import { sizeMultiple } from '../model/input-size.js';
import { modelChannels } from '../model/introspect.js';
import { modelOptions, percentileWindow } from '../activations/config-common.js';
import { checkChannel, checkLayerName, type LayerInfo } from '../activations/model-layers.js';
import { loadSlices, padToMultiple, type Slice } from '../activations/slices.js';
import { sampleChunk } from './chunk.js';
import { ATTRIBUTION_METHODS, METHOD_NAMES, type MethodOptions, type MethodOutput } from './methods.js';
import { checkTargetInside, parseTarget, targetObjective, type AttributionTarget } from './target.js';
import { renderOverlay } from './overlay.js';
import type { Engine } from '../engine/engine.js';
import type { LayersModel } from '../tf.js';

export const attributeConfigSchema = z
  .object({
    model: modelOptions.default({ source: 'builtin', backend: 'auto', device: 'cpu' }),
    inputs: z.array(z.string().min(1)).min(1, 'at least one input'),
    include: z.string().optional(),
    /** output | region:x0,y0,x1,y1 | filter:LAYER#k */
    target: z.string().default('output'),
    method: z.enum(METHOD_NAMES as [string, ...string[]]).default('integrated-gradients'),
    /** Grad-CAM's layer. */
    layer: z.string().min(1).optional(),
    samples: z.number().int().min(1).max(10000).default(50),
    /** SmoothGrad noise as a fraction of the input's range. */
    sigma: z.number().gt(0).max(10).default(0.15),
    steps: z.number().int().min(1).max(10000).default(64),
    baseline: z.enum(['zero', 'blur']).default('zero'),
    /** Gaussian sigma in pixels of the blurred baseline. */
    blurSigma: z.number().gt(0).max(1000).default(8),
    /** SmoothGrad / IG images per engine call; default: as many as fit `memory`. */
    batch: z.number().int().min(1).max(1024).optional(),
    /** MB the SmoothGrad / IG images of one engine call may hold (layer outputs and gradients; see chunk.ts). */
    memory: z.number().int().min(16).max(1048576).default(512),
    window: percentileWindow,
    seed: z.number().int().min(0).default(0),
    out: z.string().min(1),
  })
  .strict();

export type AttributeConfig = z.infer<typeof attributeConfigSchema>;

export interface AttributionRecord {
  input: string;
  method?: string;
  target?: string;
  overlay?: string;
  npy?: string;
  /** The map in the input's format (NIfTI or DICOM sources). */
  native?: string;
  range?: { min: number; max: number };
  completeness?: MethodOutput['completeness'] & { relativeError: number };
  /** SmoothGrad / IG: images per engine call. */
  batch?: number;
  ms?: number;
  error?: string;
}

/** The target's layer and channel, and Grad-CAM's layer, against a model's layers (UsageError naming the option). */
export function checkAttributeLayers(config: Pick<AttributeConfig, 'target' | 'layer'>, layers: readonly LayerInfo[]): void {
  const target = parseTarget(config.target);
  if (target.kind === 'filter') checkChannel('target', checkLayerName('target', target.layer, layers), target.channel);
  if (config.layer !== undefined) checkLayerName('layer', config.layer, layers);
}

/** Grad-CAM takes a layer, and only Grad-CAM does. */
export function checkGradcamLayer(config: Pick<AttributeConfig, 'method' | 'layer'>): void {
  if (config.method === 'gradcam' && config.layer === undefined) throw invalidParameterError('layer', "a layer name (gradcam weighs a layer's channels by their mean gradient)", undefined);
  if (config.method !== 'gradcam' && config.layer !== undefined) throw invalidParameterError('layer', `no value: only method gradcam takes a layer, not ${config.method}`, config.layer);
}

function methodOptions(config: AttributeConfig, batch: number): MethodOptions {
  return { samples: config.samples, sigma: config.sigma, steps: config.steps, baseline: config.baseline, blurSigma: config.blurSigma, batch, layer: config.layer, seed: config.seed };
}

/** SmoothGrad / IG images per engine call on a padded height x width slice: `batch` if set, else what fits `memory`. */
export function chunkFor(model: LayersModel, config: AttributeConfig, height: number, width: number): number {
  const count = config.method === 'smoothgrad' ? config.samples : config.method === 'integrated-gradients' ? config.steps + 2 : 1;
  return config.batch ?? sampleChunk(model, height, width, config.memory, count);
}

/** The attribution map of one slice (height x width, the slice's own pixels). */
export async function attributeSlice(engine: Engine, model: LayersModel, slice: Pick<Slice, 'data' | 'width' | 'height' | 'channels'>, target: AttributionTarget, method: string, options: MethodOptions): Promise<MethodOutput> {
  const padded = padToMultiple(slice, sizeMultiple(model));
  const outputLayer = (model.outputs[0]!.sourceLayer as { name: string }).name;
  const out = await ATTRIBUTION_METHODS[method]!.run({
    engine,
    x: padded.data,
    width: padded.width,
    height: padded.height,
    channels: slice.channels,
    objective: (n) => targetObjective(target, outputLayer, n, slice.width, slice.height),
    options,
  });
  if (padded.width === slice.width && padded.height === slice.height) return out;
  const map = new Float32Array(slice.width * slice.height);
  for (let y = 0; y < slice.height; y++) map.set(out.map.subarray(y * padded.width, y * padded.width + slice.width), y * slice.width);
  return { ...out, map };
}

/** What `attributeSlices` computes with: an opened model and its engine. */
export interface OpenedEngine {
  model: LayersModel;
  engine: Engine;
}

/** Attribution maps are per pixel of a grey slice: the model must take 1-channel images. */
export function checkAttributeChannels(model: LayersModel): void {
  const channels = modelChannels(model);
  if (channels !== 1) throw new UsageError(`attribute supports 1-channel models (MR slices); this model takes ${channels} channels`);
}

/**
 * Overlay, raw map and native-format map of every slice on an opened model (checked against it with
 * checkAttributeLayers): the work of the `attribute` mode.
 */
export async function attributeSlices(opened: OpenedEngine, config: AttributeConfig, slices: readonly Slice[], emit?: EventSink): Promise<AttributionRecord[]> {
  const target = parseTarget(config.target);
  const signed = ATTRIBUTION_METHODS[config.method]!.signed;
  const results: AttributionRecord[] = [];
  for (const [index, slice] of slices.entries()) {
    emit?.({ type: 'progress', done: index, total: slices.length, label: slice.input });
    const t0 = performance.now();
    const divisor = sizeMultiple(opened.model);
    const batch = chunkFor(opened.model, config, Math.ceil(slice.height / divisor) * divisor, Math.ceil(slice.width / divisor) * divisor);
    const out = await attributeSlice(opened.engine, opened.model, slice, target, config.method, methodOptions(config, batch));
    const ms = performance.now() - t0;
    const base = `${slice.name}_${config.method}`;
    await writeFileAtomic(path.join(config.out, `${base}.png`), await renderOverlay(slice.data, out.map, slice.width, slice.height, signed));
    await writeNpy(path.join(config.out, `${base}.npy`), out.map, [slice.height, slice.width]);
    const record: AttributionRecord = { input: slice.input, method: config.method, target: config.target, overlay: `${base}.png`, npy: `${base}.npy`, ms };
    if (config.method === 'smoothgrad' || config.method === 'integrated-gradients') record.batch = batch;
    const format = slice.source.meta.format;
    if (format === 'nifti' || format === 'dicom') {
      const file = `${base}${format === 'nifti' ? '.nii.gz' : '.dcm'}`;
      const { window: _window, ...meta } = slice.source.meta;
      await writeImage(createImage(slice.width, slice.height, 1, out.map, { ...meta, hasAlpha: false }), path.join(config.out, file), {
        description: `unet-dream ${config.method} ${config.target}`.slice(0, 64),
        // A map is a measurement in its own units, not an image in the source's: float32 in NIfTI, never the source's
        // 8-bit type (a signed map would be cut to 256 levels). DICOM MR objects hold 16-bit integers (with a rescale).
        ...(format === 'nifti' ? { bitDepth: 32 as const } : {}),
      });
      record.native = file;
    }
    let min = Infinity;
    let max = -Infinity;
    for (const v of out.map) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    record.range = { min, max };
    if (out.completeness) {
      const { fx, fBaseline, sum } = out.completeness;
      record.completeness = { ...out.completeness, relativeError: Math.abs(sum - (fx - fBaseline)) / Math.max(Math.abs(fx - fBaseline), 1e-12) };
    }
    results.push(record);
  }
  return results;
}

/** The slices of `config.inputs`, each checked to contain the target (a region outside one is a UsageError). */
export async function loadAttributeSlices(config: AttributeConfig): Promise<{ slices: Slice[]; failures: AttributionRecord[] }> {
  const target = parseTarget(config.target);
  const { slices, failures } = await loadSlices(config.inputs, { include: config.include, window: config.window, channels: 1 });
  for (const s of slices) checkTargetInside(target, s.width, s.height, s.input);
  return { slices, failures: failures.map((f) => ({ input: f.input, error: f.error })) };
}
