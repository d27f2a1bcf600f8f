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
