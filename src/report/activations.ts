/**
 * The activations section: per input and layer, the contact sheet the run wrote, the channel
 * statistics over the whole feature map (every channel, from the raw .npy, not only the ones on the
 * sheet), and links to the raw maps (.npy, NIfTI).
 */
import type { ReportContext, SectionRenderer } from './context.js';
import { existing, failedSection, readNpyInside, shortName } from './files.js';
import { esc, fileLinks, href, num, numCell, sortableTable, table, textCell } from './html.js';

interface LayerEntry {
  layer: string;
  height?: number;
  width?: number;
  channels?: number;
  stride?: [number, number];
  shown?: { channel: number; mean: number }[];
  sheet?: string;
  npy?: string;
  nifti?: string;
}

interface ActivationsEntry {
  input: string;
  layers?: LayerEntry[];
  error?: string;
}

function isEntry(r: unknown): r is ActivationsEntry {
  return typeof r === 'object' && r !== null && typeof (r as ActivationsEntry).input === 'string';
}

export interface ChannelStats {
  channel: number;
  mean: number;
  max: number;
  /** Fraction of map pixels above zero (ReLU units: how often the channel fires). */
  active: number;
}

/** Per-channel statistics of a channel-first [C, h, w] map. */
export function channelStats(data: Float32Array, shape: number[]): ChannelStats[] {
  const [c = 0, h = 0, w = 0] = shape;
  const plane = h * w;
  const out: ChannelStats[] = [];
  for (let k = 0; k < c; k++) {
    let sum = 0;
    let max = -Infinity;
    let on = 0;
    for (let i = k * plane; i < (k + 1) * plane; i++) {
      const v = data[i]!;
      sum += v;
      if (v > max) max = v;
      if (v > 0) on++;
    }
    out.push({ channel: k, mean: sum / plane, max, active: on / plane });
  }
  return out;
}

const TOP = 5;

async function layerBlock(ctx: ReportContext, l: LayerEntry, id: string): Promise<string> {
  const sheet = await existing(ctx, l.sheet);
  const npy = await existing(ctx, l.npy);
  const raw = await readNpyInside(ctx, npy);
  const shape = raw?.shape ?? [];
  const stats = raw && shape.length === 3 && raw.data.length === shape[0]! * shape[1]! * shape[2]! ? channelStats(raw.data, shape) : undefined;
  const size = `${l.width ?? '?'} x ${l.height ?? '?'} x ${l.channels ?? '?'}${l.stride ? `, ${num(l.stride[0])} input pixels per map pixel` : ''}`;
  const links = fileLinks([['sheet PNG', sheet], ['raw maps .npy', npy], ['NIfTI', await existing(ctx, l.nifti)]]);
  let statsHtml: string;
  if (stats) {
    const top = [...stats].sort((a, b) => b.mean - a.mean).slice(0, TOP);
    const dead = stats.filter((s) => s.max <= 0).length;
    const mean = stats.reduce((s, x) => s + x.mean, 0) / stats.length;
    const peak = Math.max(...stats.map((s) => s.mean), 0);
    statsHtml = `<p>${stats.length} channels; mean activation ${num(mean)}; ${dead} silent on this slice (never above 0). Top ${top.length} channels by mean activation: ${top
      .map((s) => `<strong>#${s.channel}</strong> ${num(s.mean)}`)
      .join(', ')}.</p>
<details><summary>all ${stats.length} channels (click a column to sort)</summary>${sortableTable(
      ['channel', 'mean', 'max', 'active pixels', ''],
      stats.map((s) => [
        numCell(s.channel),
        numCell(s.mean),
        numCell(s.max),
        { html: `${(100 * s.active).toFixed(1)}%`, value: s.active },
        { html: `<span class="bar" style="width:${peak > 0 ? Math.max(0, Math.round((60 * s.mean) / peak)) : 0}px"></span>`, value: s.mean },
      ]),
      `${id}-channels`,
    )}</details>`;
  } else if (l.shown?.length) {
    statsHtml = `<p class="muted">No readable raw map; the manifest's means of the channels on the sheet:</p>${table(
      ['channel', 'mean'],
      l.shown.map((s) => [String(s.channel), num(s.mean)]),
    )}`;
  } else statsHtml = '<p class="muted">No channel statistics in this manifest.</p>';
  return `<div class="layer" id="${id}"><h3>${esc(l.layer)} <span class="muted">(${esc(size)})</span></h3>
${sheet ? `<p><img class="sheet" src="${href(sheet)}" alt="feature maps of ${esc(l.layer)}"></p><p class="muted">Each tile: one channel's map on this slice, min-max scaled; the number under it is the channel's mean activation.</p>` : '<p class="muted">sheet missing</p>'}
${statsHtml}<p>Files: ${links || '–'}</p></div>`;
}

export const activationsSection: SectionRenderer = async (ctx) => {
  const records = (ctx.manifest.results ?? []).filter(isEntry);
  const nav: { id: string; label: string }[] = [];
  const parts: string[] = [];
  for (const [i, r] of records.entries()) {
    if (r.error) continue;
    const id = `input-${i}`;
    nav.push({ id, label: shortName(r.input) });
    const blocks = await Promise.all((r.layers ?? []).map((l, li) => layerBlock(ctx, l, `${id}-layer-${li}`)));
    parts.push(`<section id="${id}"><h2>${esc(r.input)}</h2>${blocks.join('\n') || '<p class="muted">no layers</p>'}</section>`);
  }
  const failed = failedSection(records.filter((r) => r.error));
  if (records.length === 0) parts.push('<section><h2>Activations</h2><p class="muted">This manifest lists no inputs.</p></section>');
  return { nav: [...nav, ...failed.nav], html: parts.join('\n') + failed.html };
};
