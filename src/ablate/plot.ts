/** The sorted importance curve of a layer as a PNG: PSNR change per filter, most important first. */
import sharp from 'sharp';
import { textPath } from '../render/text.js';
import type { LayerAblation } from './ablate.js';

export async function importancePlot(ablation: LayerAblation, width = 720, height = 360): Promise<Buffer> {
  const left = 70;
  const right = 20;
  const top = 40;
  const bottom = 50;
  const values = ablation.order.map((f) => ablation.importance[f]!.dPsnr);
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values);
  const span = high - low || 1;
  const x = (i: number) => left + ((width - left - right) * (values.length > 1 ? i / (values.length - 1) : 0.5));
  const y = (v: number) => top + ((height - top - bottom) * (high - v)) / span;
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  // Ticks closer than 16 px to one already drawn would overprint it.
  const ticks: number[] = [];
  for (const v of [0, low, high, low / 2, high / 2]) if (ticks.every((t) => Math.abs(y(t) - y(v)) >= 16)) ticks.push(v);
  const parts = [
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<line x1="${left}" y1="${y(0)}" x2="${width - right}" y2="${y(0)}" stroke="#999"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#333"/>`,
    `<polyline points="${points}" fill="none" stroke="#c0392b" stroke-width="2"/>`,
    ...values.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="1.8" fill="#c0392b"/>`),
    ...ticks.map((v) => `<line x1="${left - 4}" y1="${y(v)}" x2="${left}" y2="${y(v)}" stroke="#333"/>` + textPath(v.toFixed(2), left - 6, y(v) + 4, 11, '#333', 'end')),
    textPath(`${ablation.layer}: PSNR change when one filter is zeroed (${ablation.images} held-out images, baseline ${ablation.baseline.psnr.toFixed(2)} dB)`, width / 2, 22, 13, '#111', 'middle'),
    textPath(`filters sorted by importance (${values.length}), most important first`, (left + width - right) / 2, height - 15, 12, '#333', 'middle'),
    textPath('dB', 14, top + 10, 12, '#333', 'start'),
  ];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
  return sharp(Buffer.from(svg)).removeAlpha().png({ compressionLevel: 9 }).toBuffer();
}
