/** Channel selections for feature maps: the filter selections (0-15, 3,5,9, random:N, all) plus top:N. */
import { parseFilterSelection, resolveFilters, type FilterSelection } from '../ascent/filters.js';
import { invalidParameterError } from '../errors.js';

export type ChannelSelection = FilterSelection | { kind: 'top'; count: number };

export function parseChannelSelection(text: string, option = '--channels'): ChannelSelection {
  const top = /^top:(\d+)$/.exec(text.trim());
  if (top) {
    if (Number(top[1]) < 1) throw invalidParameterError(option, 'top:N with N >= 1', text);
    return { kind: 'top', count: Number(top[1]) };
  }
  try {
    return parseFilterSelection(text);
  } catch {
    throw invalidParameterError(option, 'a range (0-15), a list (3,5,9), random:N, top:N or all', text);
  }
}

/** Concrete channels; `top:N` ranks by `means` (the slice's mean activation per channel), highest first. */
export function resolveChannels(selection: ChannelSelection, layer: string, channels: number, seed: number, means: Float32Array): number[] {
  if (selection.kind !== 'top') return resolveFilters(selection, layer, channels, seed);
  return Array.from({ length: channels }, (_, i) => i)
    .sort((a, b) => means[b]! - means[a]! || a - b)
    .slice(0, Math.min(selection.count, channels));
}

/** Largest explicit channel index of a selection (what must exist in every layer). */
export function maxListedChannel(selection: ChannelSelection): number | undefined {
  return selection.kind === 'list' ? Math.max(...selection.indices) : undefined;
}
