/**
 * An attribution map over its input: the slice in grey, the map in colour with opacity growing with
 * its magnitude. Signed maps use a diverging colormap centred on zero (blue negative, red positive),
 * unsigned ones (Grad-CAM) magma; both are windowed at the 99th percentile of |map| so one hot pixel
 * does not wash out the rest.
 */
import sharp from 'sharp';
import { colormap } from '../render/colormap.js';

export function robustMax(map: Float32Array): number {
  const abs = Float32Array.from(map, Math.abs).sort();
  const m = abs[Math.min(abs.length - 1, Math.floor(0.99 * abs.length))]!;
  return m > 0 ? m : abs[abs.length - 1]! || 1;
}

export async function renderOverlay(grey: Float32Array, map: Float32Array, width: number, height: number, signed: boolean): Promise<Buffer> {
  const lut = colormap(signed ? 'rdbu' : 'magma');
  const m = robustMax(map);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const base = Math.max(0, Math.min(1, grey[i]!)) * 255;
    const v = map[i]!;
    const t = signed ? Math.max(0, Math.min(1, (v / m + 1) / 2)) : Math.max(0, Math.min(1, v / m));
    const alpha = Math.min(1, Math.abs(v) / m) * 0.75;
    const k = Math.round(t * 255) * 3;
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(base * (1 - alpha) + lut[k + c]! * alpha);
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
}
