/** One visualised image to RGB pixels: intensity window, then colormap (single channel) or direct RGB. */
import { colormap } from './colormap.js';

export interface Window {
  low: number;
  high: number;
}

export interface RgbImage {
  data: Uint8Array; // height * width * 3
  width: number;
  height: number;
}

/** Min-max of the data; a flat image gets a unit-wide window so it renders mid-grey, not NaN. */
export function minMaxWindow(...images: Float32Array[]): Window {
  let low = Infinity;
  let high = -Infinity;
  for (const data of images) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < low) low = v;
      if (v > high) high = v;
    }
  }
  if (!Number.isFinite(low) || !Number.isFinite(high)) return { low: 0, high: 1 };
  if (high === low) return { low: low - 0.5, high: high + 0.5 };
  return { low, high };
}

/** The p-th percentile (0..100) of the values, linearly interpolated (numpy's default). */
function percentileOf(sorted: Float32Array, p: number): number {
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** A window between two percentiles of the data: a few outlier pixels no longer flatten the rest. */
export function percentileWindow(low: number, high: number, ...images: Float32Array[]): Window {
  const all = new Float32Array(images.reduce((n, d) => n + d.length, 0));
  let n = 0;
  for (const d of images) for (let i = 0; i < d.length; i++) if (Number.isFinite(d[i]!)) all[n++] = d[i]!;
  if (n === 0) return { low: 0, high: 1 };
  const sorted = all.subarray(0, n).sort();
  const w = { low: percentileOf(sorted, low), high: percentileOf(sorted, high) };
  return w.high === w.low ? { low: w.low - 0.5, high: w.high + 0.5 } : w;
}

export interface WindowMode {
  /** What the colour range spans, for captions and colour bars. */
  describe: string;
  /** Ends of the colour bar when each tile has its own window. */
  ends?: [string, string];
  /** One window per tile (tile index i of the sheet's images) or, with `sheet`, one for all. */
  window: (images: Float32Array[], i: number) => Window;
  sheet?: boolean;
}

/** render.normalize names to intensity windows (add a mode: one line). */
export const WINDOW_MODES: Readonly<Record<string, WindowMode>> = Object.freeze({
  tile: { describe: 'each tile from its own minimum to its maximum', ends: ['tile min', 'tile max'], window: (images, i) => minMaxWindow(images[i]!) },
  sheet: { describe: 'one minimum-to-maximum window for the whole sheet', sheet: true, window: (images) => minMaxWindow(...images) },
  'p1-99': { describe: "each tile from its 1st to its 99th percentile (values outside clipped)", ends: ['tile p1', 'tile p99'], window: (images, i) => percentileWindow(1, 99, images[i]!) },
});
export const WINDOW_MODE_NAMES = Object.freeze(Object.keys(WINDOW_MODES));

export function renderTile(data: Float32Array, width: number, height: number, channels: number, window: Window, colormapName: string): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const scale = 255 / (window.high - window.low);
  const level = (v: number) => Math.max(0, Math.min(255, Math.round((v - window.low) * scale)));
  if (channels === 1) {
    const lut = colormap(colormapName);
    for (let i = 0; i < width * height; i++) {
      const k = level(data[i]!) * 3;
      out[i * 3] = lut[k]!;
      out[i * 3 + 1] = lut[k + 1]!;
      out[i * 3 + 2] = lut[k + 2]!;
    }
  } else {
    // Colour models: show the first three channels as RGB (a colormap would hide the colour).
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) out[i * 3 + c] = level(data[i * channels + Math.min(c, channels - 1)]!);
    }
  }
  return { data: out, width, height };
}
