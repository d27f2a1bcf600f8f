/** The objective per step as a small inline SVG line chart (no script, no library). */
import { esc, num } from './html.js';

export interface CurveOptions {
  width?: number;
  height?: number;
  /** Indices where a new segment starts (dream octaves): drawn as dashed verticals. */
  breaks?: number[];
  title?: string;
}

export function curveSvg(values: readonly number[], options: CurveOptions = {}): string {
  const width = options.width ?? 320;
  const height = options.height ?? 140;
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length < 2) return '';
  const left = 48;
  const right = 8;
  const top = 10;
  const bottom = 22;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const x = (i: number) => left + (i / (values.length - 1)) * (width - left - right);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const points = values
    .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : ''))
    .filter(Boolean)
    .join(' ');
  const breaks = (options.breaks ?? [])
    .map((b) => `<line x1="${x(b).toFixed(1)}" x2="${x(b).toFixed(1)}" y1="${top}" y2="${height - bottom}" stroke="#999" stroke-dasharray="3 3"/>`)
    .join('');
  return `<svg class="curve" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(options.title ?? 'objective per step')}">
<title>${esc(options.title ?? 'objective per step')}</title>
<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#888"/><line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="#888"/>
<text x="${left - 4}" y="${top + 8}" text-anchor="end">${esc(num(hi))}</text><text x="${left - 4}" y="${height - bottom}" text-anchor="end">${esc(num(lo))}</text>
<text x="${left}" y="${height - 6}">0</text><text x="${width - right}" y="${height - 6}" text-anchor="end">step ${values.length - 1}</text>
${breaks}<polyline fill="none" stroke="#2a6fdb" stroke-width="1.6" points="${points}"/></svg>`;
}
