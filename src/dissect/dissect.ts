/**
 * Network dissection (Bau et al. 2017) of an MRI de-aliasing network against two concepts this
 * project knows exactly for every image: the aliasing (|zero-filled - target| above a threshold) and
 * the anatomy's edges (of the fully sampled target).
 *
 * Per filter of every convolution layer: its activation (the layer's output, after its activation
 * function, before any BatchNorm that follows) is thresholded at T_k, the `quantile` of all its
 * activations over every position of every image (0.995: the top 0.5%, as network dissection), after
 * bilinear upsampling to the image; IoU = sum over images |unit AND concept| / sum |unit OR concept|.
 * A filter is a detector of a concept when its IoU reaches `iouThreshold` (0.04, network
 * dissection's), and dead on data when it is exactly zero at every position of every image.
 *
 * Two forward passes over the data: the first finds each filter's T_k exactly (a top-k per filter),
 * the second counts the overlaps, so memory stays at one batch of feature maps.
 */
import type { LayersModel } from '../tf.js';
import type { EventSink } from '../events.js';
import { invalidParameterError, unknownNameError } from '../errors.js';
import { ForwardRunner } from './forward-graph.js';
import { aliasingMask, bilinearAxis, countOnes, edgeMask, overlapAbove, TopK, type Axis } from './masks.js';
import type { PairSet } from './data.js';

export const FILTER_LABELS = Object.freeze(['aliasing', 'edge', 'both', 'neither', 'dead'] as const);
export type FilterLabel = (typeof FILTER_LABELS)[number];

export interface DissectConfig {
  /** Convolution layers to dissect (default: every Conv2D layer). */
  layers?: readonly string[];
  /** Activation quantile of each unit's mask (default 0.995: the top 0.5%). */
  quantile?: number;
  /**
   * |zero-filled - target| above this is aliasing (default 0.15). At R=4 on held-out phantoms 0.05 marks
   * 26% of all pixels, 0.15 marks 4.2%: a unit's top 0.5% can reach IoU 0.12 against the latter, only 0.02
   * against the former, so a low threshold would make every unit fail network dissection's 0.04.
   */
  aliasThreshold?: number;
  /** Central-difference gradient magnitude of the target above this is an edge (default 0.15: steps of contrast > 0.3; 4.8% of pixels). */
  edgeThreshold?: number;
  /** IoU from which a filter detects a concept (default 0.04, network dissection's). */
  iouThreshold?: number;
  /** Images per forward pass (default 1: on 2 cores a batch of 8 costs about twice the CPU time per image, BENCHMARKS.md). */
  batch?: number;
  /** onnxruntime threads (default: all cores). */
  threads?: number;
}

export const DISSECT_DEFAULTS = Object.freeze({ quantile: 0.995, aliasThreshold: 0.15, edgeThreshold: 0.15, iouThreshold: 0.04, batch: 1 });

export interface FilterDissection {
  filter: number;
  label: FilterLabel;
  aliasingIoU: number;
  edgeIoU: number;
  /** T_k: the unit's activation threshold. */
  threshold: number;
  /** Largest activation over all data (0 for a dead ReLU). */
  max: number;
  /** The image where this unit's mask best overlaps the aliasing (per-image IoU), and that IoU. */
  bestImage: number;
  bestImageIoU: number;
}

export interface LayerSummary {
  layer: string;
  filters: number;
  /** Activation map side (the image side divided by the layer's downsampling). */
  side: number;
  counts: Record<FilterLabel, number>;
  /** Mean aliasing and edge IoU of the filters carrying each label (null when none does). */
  meanIoU: Record<FilterLabel, { aliasing: number; edge: number } | null>;
}

export interface DissectResult {
  config: Required<Omit<DissectConfig, 'layers' | 'threads'>> & { layers: string[] };
  images: number;
  size: number;
  /** Fraction of image pixels in each concept mask, over all images. */
  maskFractions: { aliasing: number; edge: number };
  layers: (LayerSummary & { units: FilterDissection[] })[];
}

export function convLayers(model: LayersModel): string[] {
  return model.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.name);
}

export function validateDissectConfig(model: LayersModel, config: DissectConfig): Required<Omit<DissectConfig, 'threads' | 'layers'>> & { layers: string[]; threads?: number } {
  const q = config.quantile ?? DISSECT_DEFAULTS.quantile;
  if (!(q > 0 && q < 1)) throw invalidParameterError('--quantile', 'a number between 0 and 1 (exclusive)', q);
  const numbers = [
    ['--alias-threshold', config.aliasThreshold ?? DISSECT_DEFAULTS.aliasThreshold],
    ['--edge-threshold', config.edgeThreshold ?? DISSECT_DEFAULTS.edgeThreshold],
    ['--iou', config.iouThreshold ?? DISSECT_DEFAULTS.iouThreshold],
  ] as const;
  for (const [name, v] of numbers) if (!(v >= 0 && v < 1)) throw invalidParameterError(name, 'a number in [0, 1)', v);
  const batch = config.batch ?? DISSECT_DEFAULTS.batch;
  if (!Number.isInteger(batch) || batch < 1) throw invalidParameterError('--batch', 'an integer >= 1', batch);
  const all = convLayers(model);
  const layers = config.layers?.length ? [...config.layers] : all;
  for (const l of layers) if (!all.includes(l)) throw unknownNameError('layer', l, all);
  return { layers, quantile: q, aliasThreshold: numbers[0][1], edgeThreshold: numbers[1][1], iouThreshold: numbers[2][1], batch, threads: config.threads };
}

export function labelOf(max: number, aliasingIoU: number, edgeIoU: number, iouThreshold: number): FilterLabel {
  if (max === 0) return 'dead';
  const a = aliasingIoU >= iouThreshold;
  const e = edgeIoU >= iouThreshold;
  return a && e ? 'both' : a ? 'aliasing' : e ? 'edge' : 'neither';
}

interface UnitState {
  top: TopK;
  max: number;
  threshold: number;
  interA: number;
  unionA: number;
  interE: number;
  unionE: number;
  bestImage: number;
  bestImageIoU: number;
}

export function summarizeLayer(layer: string, side: number, units: FilterDissection[]): LayerSummary {
  const counts = Object.fromEntries(FILTER_LABELS.map((l) => [l, 0])) as Record<FilterLabel, number>;
  const meanIoU = Object.fromEntries(FILTER_LABELS.map((l) => [l, null])) as LayerSummary['meanIoU'];
  for (const label of FILTER_LABELS) {
    const of = units.filter((u) => u.label === label);
    counts[label] = of.length;
    if (of.length) meanIoU[label] = { aliasing: of.reduce((s, u) => s + u.aliasingIoU, 0) / of.length, edge: of.reduce((s, u) => s + u.edgeIoU, 0) / of.length };
  }
  return { layer, filters: units.length, side, counts, meanIoU };
}

/** Feature maps of `layers` for images [first, first + n): layer -> [n, C, side, side]. */
async function forwardBatch(runner: ForwardRunner, pairs: PairSet, first: number, n: number) {
  const pixels = pairs.size * pairs.size;
  return runner.run({ input: { data: pairs.inputs.subarray(first * pixels, (first + n) * pixels), dims: [n, pairs.size, pairs.size, 1] } });
}

export async function dissect(model: LayersModel, pairs: PairSet, config: DissectConfig = {}, onEvent: EventSink = () => undefined): Promise<DissectResult> {
  const cfg = validateDissectConfig(model, config);
  const { size, n } = pairs;
  const pixels = size * size;
  const runner = await ForwardRunner.create(model, { outputs: cfg.layers }, cfg.threads);
  try {
    // Concept masks once: the same for every unit.
    const aliasing: Uint8Array[] = [];
    const edges: Uint8Array[] = [];
    let aCount = 0;
    let eCount = 0;
    for (let i = 0; i < n; i++) {
      const zf = pairs.inputs.subarray(i * pixels, (i + 1) * pixels);
      const t = pairs.targets.subarray(i * pixels, (i + 1) * pixels);
      aliasing.push(aliasingMask(zf, t, cfg.aliasThreshold));
      edges.push(edgeMask(t, size, cfg.edgeThreshold));
      aCount += countOnes(aliasing[i]!);
      eCount += countOnes(edges[i]!);
    }
    const state = new Map<string, UnitState[]>();
    const sides = new Map<string, number>();
    const total = 2 * Math.ceil(n / cfg.batch);
    let done = 0;
    // Pass 1: each unit's maximum and T_k.
    for (let first = 0; first < n; first += cfg.batch) {
      const m = Math.min(cfg.batch, n - first);
      const maps = await forwardBatch(runner, pairs, first, m);
      for (const layer of cfg.layers) {
        const { data, dims } = maps[layer]!;
        const [, channels, h, w] = dims as [number, number, number, number];
        if (h !== w) throw new Error(`layer ${layer} has a non-square ${h}x${w} output`);
        sides.set(layer, h);
        let units = state.get(layer);
        if (!units) {
          // round, not ceil: (1 - 0.995) * 12800 is 64.00000000000001 in floating point.
          const k = Math.max(1, Math.round((1 - cfg.quantile) * n * h * w));
          units = Array.from({ length: channels }, () => ({ top: new TopK(k), max: -Infinity, threshold: 0, interA: 0, unionA: 0, interE: 0, unionE: 0, bestImage: -1, bestImageIoU: 0 }));
          state.set(layer, units);
        }
        const plane = h * w;
        for (let b = 0; b < m; b++) {
          for (let c = 0; c < channels; c++) {
            const values = data.subarray((b * channels + c) * plane, (b * channels + c + 1) * plane);
            const u = units[c]!;
            u.top.add(values);
            for (let i = 0; i < values.length; i++) if (values[i]! > u.max) u.max = values[i]!;
          }
        }
      }
      onEvent({ type: 'progress', done: ++done, total, label: `dissect pass 1 (thresholds): ${first + m}/${n} images` });
    }
    for (const units of state.values()) for (const u of units) u.threshold = u.top.value();
    // Pass 2: overlaps of each unit's mask with the concept masks.
    const axes = new Map<number, Axis>();
    for (let first = 0; first < n; first += cfg.batch) {
      const m = Math.min(cfg.batch, n - first);
      const maps = await forwardBatch(runner, pairs, first, m);
      for (const layer of cfg.layers) {
        const { data, dims } = maps[layer]!;
        const [, channels, side] = dims as [number, number, number, number];
        if (!axes.has(side)) axes.set(side, bilinearAxis(side, size));
        const axis = axes.get(side)!;
        const units = state.get(layer)!;
        const plane = side * side;
        for (let b = 0; b < m; b++) {
          const image = first + b;
          const a = aliasing[image]!;
          const e = edges[image]!;
          const aN = countOnes(a);
          const eN = countOnes(e);
          for (let c = 0; c < channels; c++) {
            const u = units[c]!;
            const values = data.subarray((b * channels + c) * plane, (b * channels + c + 1) * plane);
            const o = overlapAbove(values, side, size, u.threshold, axis, [a, e]);
            const [ia, ie] = o.intersections as [number, number];
            u.interA += ia;
            u.unionA += o.unit + aN - ia;
            u.interE += ie;
            u.unionE += o.unit + eN - ie;
            const iou = o.unit + aN - ia > 0 ? ia / (o.unit + aN - ia) : 0;
            if (u.bestImage < 0 || iou > u.bestImageIoU) {
              u.bestImage = image;
              u.bestImageIoU = iou;
            }
          }
        }
      }
      onEvent({ type: 'progress', done: ++done, total, label: `dissect pass 2 (IoU): ${first + m}/${n} images` });
    }
    const layers = cfg.layers.map((layer) => {
      const units: FilterDissection[] = state.get(layer)!.map((u, filter) => {
        const aliasingIoU = u.unionA > 0 ? u.interA / u.unionA : 0;
        const edgeIoU = u.unionE > 0 ? u.interE / u.unionE : 0;
        return { filter, label: labelOf(u.max, aliasingIoU, edgeIoU, cfg.iouThreshold), aliasingIoU, edgeIoU, threshold: u.threshold, max: u.max, bestImage: u.bestImage, bestImageIoU: u.bestImageIoU };
      });
      return { ...summarizeLayer(layer, sides.get(layer)!, units), units };
    });
    const { threads: _t, ...rest } = cfg;
    return { config: rest, images: n, size, maskFractions: { aliasing: aCount / (n * pixels), edge: eCount / (n * pixels) }, layers };
  } finally {
    await runner.dispose();
  }
}

/** The per-layer table as text lines (counts and mean aliasing / edge IoU per label). */
export function formatDissectTable(result: Pick<DissectResult, 'layers'>): string[] {
  const head = ['layer', 'filters', ...FILTER_LABELS, 'IoU alias|edge of aliasing', 'of edge', 'of both'];
  const rows = result.layers.map((l) => {
    const iou = (label: FilterLabel) => {
      const m = l.meanIoU[label];
      return m ? `${m.aliasing.toFixed(3)}|${m.edge.toFixed(3)}` : '-';
    };
    return [l.layer, String(l.filters), ...FILTER_LABELS.map((x) => String(l.counts[x])), iou('aliasing'), iou('edge'), iou('both')];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)];
}
