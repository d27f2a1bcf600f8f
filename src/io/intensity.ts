/**
 * Intensity windows: normalise an image to [0, 1] between two percentiles of its values, and map normalised values
 * back to the source's units. The window travels in `meta.window`, so writers can undo it (see write.ts).
 */
import { invalidParameterError } from '../errors.js';
import type { IntensityWindow, RawImage } from './image.js';
import { valueRange } from './image.js';

/** Colour samples (alpha excluded, NaN dropped) of an image. */
function colourSamples(image: RawImage): Float32Array {
  const { data, channels } = image;
  const colour = image.meta.hasAlpha ? channels - 1 : channels;
  const out = new Float32Array((data.length / channels) * colour);
  let n = 0;
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < colour; c++) {
      const v = data[i + c]!;
      if (!Number.isNaN(v)) out[n++] = v;
    }
  }
  return out.subarray(0, n);
}

/** The p-th percentile (0..100) of sorted values, linearly interpolated between neighbours (numpy's default). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const pos = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const t = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * t;
}

/** Percentiles (0..100) of the image's colour samples. */
export function percentiles(image: RawImage, ps: number[]): number[] {
  const sorted = colourSamples(image).sort();
  return ps.map((p) => percentileOfSorted(sorted, p));
}

export interface PercentileOptions {
  /** Lower percentile (default 0.5). */
  low?: number;
  /** Upper percentile (default 99.5). */
  high?: number;
  /** Clip normalised values to [0, 1] (default true). */
  clip?: boolean;
}

/**
 * Normalise to [0, 1] between the LOW and HIGH percentiles of the image's values (alpha untouched). Returns the
 * normalised image, whose `meta.window` records the window in source units, and the window.
 */
export function percentileWindow(image: RawImage, options: PercentileOptions = {}): { image: RawImage; window: IntensityWindow } {
  const low = options.low ?? 0.5;
  const high = options.high ?? 99.5;
  if (!(Number.isFinite(low) && low >= 0 && low <= 100)) throw invalidParameterError('low', 'a percentile in [0, 100]', low);
  if (!(Number.isFinite(high) && high >= 0 && high <= 100)) throw invalidParameterError('high', 'a percentile in [0, 100]', high);
  if (!(low < high)) throw invalidParameterError('low', `a percentile below high (${high})`, low);
  const [lowValue, highValue] = percentiles(image, [low, high]) as [number, number];
  const window: IntensityWindow = { low: lowValue, high: highValue, lowPercentile: low, highPercentile: high };
  return { image: applyWindow(image, window, options.clip ?? true), window };
}

/** Normalise with a given window: (v - low) / (high - low), clipped to [0, 1] unless CLIP is false. */
export function applyWindow(image: RawImage, window: IntensityWindow, clip = true): RawImage {
  if (!(Number.isFinite(window.low) && Number.isFinite(window.high))) throw invalidParameterError('window', 'finite low and high', window);
  const span = window.high - window.low;
  const scale = span > 0 ? 1 / span : 0;
  const { data, channels } = image;
  const colour = image.meta.hasAlpha ? channels - 1 : channels;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const v = data[i + c]!;
      if (c >= colour) {
        out[i + c] = v;
        continue;
      }
      let x = (v - window.low) * scale;
      if (clip) x = x < 0 ? 0 : x > 1 ? 1 : x;
      out[i + c] = x;
    }
  }
  return {
    ...image,
    data: out,
    meta: { ...image.meta, window: { ...window }, range: valueRange(out, channels, image.meta.hasAlpha) },
  };
}

/**
 * Map normalised values back to source units: low + v * (high - low). Uses `meta.window` unless a window is given;
 * an image without a window is returned unchanged. The result has no `meta.window`.
 */
export function unwindow(image: RawImage, window: IntensityWindow | undefined = image.meta.window): RawImage {
  if (!window) return image;
  const span = window.high - window.low;
  const { data, channels } = image;
  const colour = image.meta.hasAlpha ? channels - 1 : channels;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < channels; c++) out[i + c] = c < colour ? window.low + data[i + c]! * span : data[i + c]!;
  }
  const { window: _dropped, ...meta } = image.meta;
  void _dropped;
  return { ...image, data: out, meta: { ...meta, range: valueRange(out, channels, image.meta.hasAlpha) } };
}

// ---------------------------------------------------------------------------------------------------------------
// Output range

/** How an output's values relate to its input's range: bounded to it ('input', the default), or left as computed. */
export type RangeMode = 'input' | 'free';
export const RANGE_MODES: readonly RangeMode[] = Object.freeze(['input', 'free'] as const);

/** The value range of every image of one input (all slices / frames / volumes together). */
export function inputRange(images: readonly RawImage[]): { min: number; max: number } {
  if (images.length === 0) return { min: 0, max: 0 };
  let min = Infinity;
  let max = -Infinity;
  for (const image of images) {
    if (image.meta.range.min < min) min = image.meta.range.min;
    if (image.meta.range.max > max) max = image.meta.range.max;
  }
  return { min, max };
}

/**
 * OUTPUT's values bounded to RANGE (normally `inputRange` of the input it came from) when MODE is 'input', so a
 * magnitude image stays non-negative and within what the scanner produced; unchanged for 'free'. Values in source
 * units (a windowed image, with `meta.window`, is bounded after mapping the range through its window). Alpha is
 * left alone.
 */
export function boundToRange(output: RawImage, range: { min: number; max: number }, mode: RangeMode = 'input'): RawImage {
  if (!RANGE_MODES.includes(mode)) throw invalidParameterError('range', "'input' or 'free'", mode);
  if (mode === 'free') return output;
  let { min, max } = range;
  const w = output.meta.window;
  if (w) {
    const span = w.high - w.low || 1;
    [min, max] = [(min - w.low) / span, (max - w.low) / span];
  }
  const { channels } = output;
  const colour = output.meta.hasAlpha ? channels - 1 : channels;
  const data = output.data.slice();
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < colour; c++) {
      const v = data[i + c]!;
      data[i + c] = v < min ? min : v > max ? max : v;
    }
  }
  return { ...output, data, meta: { ...output.meta, range: valueRange(data, channels, output.meta.hasAlpha) } };
}
