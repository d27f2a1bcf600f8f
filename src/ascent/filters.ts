/** Filter selections: `0-15`, `3,5,9`, `random:16`, `all`. */
import { UsageError, invalidParameterError } from '../errors.js';
import { keyedRng } from '../random.js';

export type FilterSelection =
  | { kind: 'all' }
  | { kind: 'random'; count: number }
  | { kind: 'list'; indices: number[] };

const EXPECTED = 'a range (0-15), a list (3,5,9), random:N or all';

export function parseFilterSelection(spec: string): FilterSelection {
  const text = spec.trim();
  if (text === 'all') return { kind: 'all' };
  const random = /^random:(\d+)$/.exec(text);
  if (random) {
    const count = Number(random[1]);
    if (count < 1) throw invalidParameterError('filters', 'random:N with N >= 1', spec);
    return { kind: 'random', count };
  }
  const indices: number[] = [];
  for (const part of text.split(',')) {
    const range = /^(\d+)-(\d+)$/.exec(part.trim());
    const single = /^\d+$/.exec(part.trim());
    if (range) {
      const [from, to] = [Number(range[1]), Number(range[2])];
      if (to < from) throw invalidParameterError('filters', `${EXPECTED} (ranges go low-high)`, spec);
      for (let i = from; i <= to; i++) indices.push(i);
    } else if (single) {
      indices.push(Number(single[0]));
    } else {
      throw invalidParameterError('filters', EXPECTED, spec);
    }
  }
  return { kind: 'list', indices: [...new Set(indices)] };
}

/**
 * Concrete filter indices of a layer with `channels` filters. `random:N` draws N distinct filters
 * (the seed drew with replacement, which can show the same filter twice), keyed by seed and layer.
 */
export function resolveFilters(selection: FilterSelection, layer: string, channels: number, seed: number): number[] {
  if (selection.kind === 'all') return Array.from({ length: channels }, (_, i) => i);
  if (selection.kind === 'random') {
    const pool = Array.from({ length: channels }, (_, i) => i);
    const rng = keyedRng(seed, 'filters', layer);
    const count = Math.min(selection.count, channels);
    for (let i = 0; i < count; i++) {
      const j = i + rng.int(channels - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, count);
  }
  const bad = selection.indices.find((i) => i >= channels);
  if (bad !== undefined) {
    throw new UsageError(`filter ${bad} is out of range for layer ${layer}: it has ${channels} filters, valid indices are 0-${channels - 1}`);
  }
  return selection.indices;
}
