/**
 * Which filters to remove: per layer, the dead-on-data ones first (exactly zero on every image), then
 * the ones whose ablation cost the least PSNR (a filter whose removal raised PSNR goes first).
 */
import type { LayersModel } from '../tf.js';
import { ForwardRunner } from '../dissect/forward-graph.js';
import type { PairSet } from '../dissect/data.js';
import { invalidParameterError } from '../errors.js';

/** Largest activation of each filter over all images, per layer. */
export async function filterMaxima(model: LayersModel, pairs: PairSet, layers: readonly string[], batch = 1, threads?: number): Promise<Map<string, Float32Array>> {
  const runner = await ForwardRunner.create(model, { outputs: layers }, threads);
  const pixels = pairs.size * pairs.size;
  const maxima = new Map<string, Float32Array>();
  try {
    for (let first = 0; first < pairs.n; first += batch) {
      const m = Math.min(batch, pairs.n - first);
      const out = await runner.run({ input: { data: pairs.inputs.subarray(first * pixels, (first + m) * pixels), dims: [m, pairs.size, pairs.size, 1] } });
      for (const layer of layers) {
        const { data, dims } = out[layer]!;
        const [, c, h, w] = dims as [number, number, number, number];
        let max = maxima.get(layer);
        if (!max) maxima.set(layer, (max = new Float32Array(c).fill(-Infinity)));
        for (let b = 0; b < m; b++) {
          for (let k = 0; k < c; k++) {
            const plane = data.subarray((b * c + k) * h * w, (b * c + k + 1) * h * w);
            for (let i = 0; i < plane.length; i++) if (plane[i]! > max[k]!) max[k] = plane[i]!;
          }
        }
      }
    }
  } finally {
    await runner.dispose();
  }
  return maxima;
}

export type KeepSpec = number | 'dead';

export function parseKeep(value: string | number): KeepSpec {
  if (value === 'dead') return 'dead';
  const keep = Number(value);
  if (!(keep > 0 && keep <= 1)) throw invalidParameterError('--keep', "a fraction in (0, 1] of each layer's filters, or dead (remove only dead-on-data filters)", value);
  return keep;
}

export interface LayerSelection {
  layer: string;
  filters: number;
  dead: number[];
  /** Filters to remove, in removal order. */
  remove: number[];
  /** PSNR change of each removed filter when ablated (undefined for dead filters or without scores). */
  scores: Record<number, number>;
}

/**
 * `keep` 'dead': every dead filter. A fraction: floor((1 - keep) * filters) filters, dead first, then
 * by ablation score (`scores[f]`: PSNR change when f is zeroed; higher is less important).
 */
export function selectFilters(layer: string, maxima: Float32Array, keep: KeepSpec, scores?: ArrayLike<number>): LayerSelection {
  const filters = maxima.length;
  const dead = Array.from({ length: filters }, (_, i) => i).filter((i) => maxima[i] === 0);
  if (keep === 'dead') return { layer, filters, dead, remove: dead.length < filters ? dead : dead.slice(1), scores: {} };
  const count = Math.min(filters - 1, Math.floor((1 - keep) * filters + 1e-9));
  const remove = dead.slice(0, count);
  if (remove.length < count) {
    if (!scores) throw new Error(`layer ${layer} needs ablation scores to remove more than its ${dead.length} dead filters`);
    const alive = Array.from({ length: filters }, (_, i) => i).filter((i) => maxima[i] !== 0);
    alive.sort((a, b) => scores[b]! - scores[a]!);
    remove.push(...alive.slice(0, count - remove.length));
  }
  const picked: Record<number, number> = {};
  if (scores) for (const f of remove) if (maxima[f] !== 0) picked[f] = scores[f]!;
  return { layer, filters, dead, remove, scores: picked };
}
