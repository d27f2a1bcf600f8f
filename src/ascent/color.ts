/**
 * Colour handling for dreams on photos with a single-channel network: dream on luminance, keep the
 * original chroma (BT.601 YCbCr, full range), so colours stay put while structure changes.
 */
import type { Plane } from './resample.js';

export interface Split {
  luma: Plane;
  /** Cb, Cr per pixel (interleaved), and alpha when the source had one. */
  chroma: Float32Array;
  alpha?: Float32Array;
}

export function splitLuminance(rgb: Plane): Split {
  const { width, height, channels } = rgb;
  const n = width * height;
  const luma = new Float32Array(n);
  const chroma = new Float32Array(n * 2);
  const alpha = channels === 4 || channels === 2 ? new Float32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    if (channels < 3) {
      luma[i] = rgb.data[i * channels]!;
      if (alpha) alpha[i] = rgb.data[i * channels + 1]!;
      continue;
    }
    const r = rgb.data[i * channels]!;
    const g = rgb.data[i * channels + 1]!;
    const b = rgb.data[i * channels + 2]!;
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    luma[i] = y;
    chroma[i * 2] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    chroma[i * 2 + 1] = 0.5 * r - 0.418688 * g - 0.081312 * b;
    if (alpha) alpha[i] = rgb.data[i * channels + 3]!;
  }
  return { luma: { data: luma, width, height, channels: 1 }, chroma, alpha };
}

/** Recombines a (dreamed) luminance with the kept chroma and alpha into the source's channel layout. */
export function mergeLuminance(luma: Plane, split: Split, channels: number): Plane {
  const n = luma.width * luma.height;
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    const y = luma.data[i]!;
    if (channels < 3) {
      out[i * channels] = y;
      if (channels === 2) out[i * channels + 1] = split.alpha![i]!;
      continue;
    }
    const cb = split.chroma[i * 2]!;
    const cr = split.chroma[i * 2 + 1]!;
    out[i * channels] = y + 1.402 * cr;
    out[i * channels + 1] = y - 0.344136 * cb - 0.714136 * cr;
    out[i * channels + 2] = y + 1.772 * cb;
    if (channels === 4) out[i * channels + 3] = split.alpha![i]!;
  }
  return { data: out, width: luma.width, height: luma.height, channels };
}
