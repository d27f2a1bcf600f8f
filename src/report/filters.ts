/**
 * The filters section: per layer, its contact sheet, then a sortable grid of its tiles; a tile zooms to
 * its full-size image with its statistics and objective curve. A tile is shown as the sheet seen through
 * the rectangle the manifest records (or as write.tiles' own PNG), so nothing is decoded or re-rendered.
 */
import type { ReportContext, SectionRenderer } from './context.js';
import { existing } from './files.js';
import { pngSize } from './png-size.js';
import { curveSvg } from './curve.js';
import { esc, href, num, table } from './html.js';

interface FilterEntry {
  layer: string;
  filter: number;
  activation?: { start?: number; end?: number };
  dead?: boolean;
  stripes?: { alongX: number; alongY: number };
  file?: string;
  tile?: string;
  rect?: { x: number; y: number; width: number; height: number };
  curve?: number[];
  vector?: string;
  animation?: string;
}

interface LayerEntry {
  layer: string;
  filters?: number;
  dead?: number;
  meanActivationGain?: number;
  vertical?: number;
  horizontal?: number;
}

function isFilterEntry(r: unknown): r is FilterEntry {
  return typeof r === 'object' && r !== null && typeof (r as FilterEntry).layer === 'string' && typeof (r as FilterEntry).filter === 'number';
}

/** The orientation of a filter's image: log2 of its x-variation over its y-variation (> 1: vertical stripes). */
function orientation(s?: { alongX: number; alongY: number }): number {
  return s && s.alongX > 0 && s.alongY > 0 ? Math.log2(s.alongX / s.alongY) : NaN;
}

function orientationWord(o: number): string {
  if (!Number.isFinite(o)) return '–';
  if (o > 1) return 'vertical stripes';
  if (o < -1) return 'horizontal stripes';
  return 'no dominant direction';
}

/** Where a tile's pixels are: its own PNG when the run wrote one, else its rectangle of the sheet. */
type TileSource = { file: string } | { sheet: string; rect: { x: number; y: number; width: number; height: number }; sheetSize: { width: number; height: number } };

async function tileSource(ctx: ReportContext, r: FilterEntry, sheetSizes: Map<string, Promise<{ width: number; height: number } | undefined>>): Promise<TileSource | undefined> {
  const own = await existing(ctx, r.tile);
  if (own) return { file: own };
  if (!r.rect || !r.file || !ctx.inside(r.file)) return undefined;
  const file = ctx.inside(r.file)!;
  // Only the sheet's size is needed (from its header): the page shows the tile as a window onto the sheet.
  if (!sheetSizes.has(file)) sheetSizes.set(file, pngSize(file));
  const sheetSize = await sheetSizes.get(file)!;
  const { x, y, width, height } = r.rect;
  if (!sheetSize || width <= 0 || height <= 0 || x < 0 || y < 0 || x + width > sheetSize.width || y + height > sheetSize.height) return undefined;
  return { sheet: r.file, rect: r.rect, sheetSize };
}

/**
 * The tile on the page: its own image, or the sheet inside a box of the tile's aspect ratio, scaled and
 * shifted so that exactly the tile's rectangle shows (percentages: it scales with the box, as in the zoom).
 * No pixels are decoded or re-encoded, and every tile of a layer shares the one sheet download.
 */
function tileHtml(src: TileSource, alt: string): string {
  if ('file' in src) return `<img src="${href(src.file)}" alt="${esc(alt)}" loading="lazy">`;
  const { rect, sheetSize } = src;
  const pct = (v: number) => `${(100 * v).toFixed(4)}%`;
  const style = `width:${pct(sheetSize.width / rect.width)};left:${pct(-rect.x / rect.width)};top:${pct(-rect.y / rect.height)}`;
  return `<span class="crop" style="aspect-ratio:${rect.width}/${rect.height}" data-rect="${rect.x},${rect.y},${rect.width},${rect.height}"><img src="${href(src.sheet)}" alt="${esc(alt)}" style="${style}" loading="lazy"></span>`;
}

function details(r: FilterEntry, recipe: string): string {
  const a = r.activation ?? {};
  const o = orientation(r.stripes);
  const rows: [string, string][] = [
    ['layer', esc(r.layer)],
    ['filter', String(r.filter)],
    ['activation start', num(a.start)],
    ['activation end', num(a.end)],
    ['dead', r.dead ? 'yes: no gradient from this start' : 'no'],
    ['stripes (energy along x / y)', r.stripes ? `${num(r.stripes.alongX)} / ${num(r.stripes.alongY)}` : '–'],
    ['orientation', orientationWord(o)],
    ['recipe', esc(recipe)],
  ];
  const curve = r.curve?.length ? curveSvg(r.curve, { title: `${r.layer} #${r.filter}: mean activation per step` }) : '<p class="muted">no per-step values in this manifest</p>';
  const animation = r.animation ? `<p><img class="anim" src="${href(r.animation)}" alt="ascent of ${esc(r.layer)} #${r.filter}" width="192"></p>` : '';
  return `<h3>${esc(r.layer)} #${r.filter}</h3><table class="kv">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table><p class="muted">objective (mean activation) per step</p>${curve}${animation}`;
}

export const filtersSection: SectionRenderer = async (ctx) => {
  const records = (ctx.manifest.results ?? []).filter(isFilterEntry);
  const summaries = new Map(((ctx.manifest.layers ?? []) as LayerEntry[]).filter((l) => l && typeof l.layer === 'string').map((l) => [l.layer, l]));
  const ascend = (ctx.manifest.config?.ascend ?? {}) as { recipe?: string; steps?: number; step?: number; normalize?: string };
  const recipe = `${ascend.recipe ?? '?'} (${ascend.steps ?? '?'} steps of ${ascend.step ?? '?'}, ${ascend.normalize ?? '?'}-normalised gradient)`;
  const layers = [...new Set(records.map((r) => r.layer))];
  const sheetSizes = new Map<string, Promise<{ width: number; height: number } | undefined>>();
  const nav: { id: string; label: string }[] = [];
  const parts: string[] = [];
  const tileSources = await Promise.all(records.map((r) => tileSource(ctx, r, sheetSizes)));
  const sourceOf = new Map(records.map((r, i) => [r, tileSources[i]]));
  for (const [li, layer] of layers.entries()) {
    const rs = records.filter((r) => r.layer === layer);
    const id = `layer-${li}`;
    nav.push({ id, label: layer });
    const s = summaries.get(layer);
    const summary = s
      ? `<p class="muted">${s.filters ?? rs.length} filters, ${s.dead ?? 0} dead, mean activation gain ${num(s.meanActivationGain)}; ${s.vertical ?? 0} vertical and ${s.horizontal ?? 0} horizontal line detectors (energy along one axis &gt; 2x the other)</p>`
      : '';
    const sheet = rs[0]!.file;
    const links = [sheet ? `<a href="${href(sheet)}">PNG</a>` : '', rs[0]!.vector ? `<a href="${href(rs[0]!.vector)}">SVG</a>` : ''].filter(Boolean).join(' · ');
    const tiles = rs.map((r, i) => {
        const src = sourceOf.get(r);
        const o = orientation(r.stripes);
        const gain = (r.activation?.end ?? NaN) - (r.activation?.start ?? NaN);
        const label = `#${r.filter} ${r.dead ? 'dead' : num(r.activation?.end)}`;
        return `<div role="button" tabindex="0" class="tile${r.dead ? ' dead' : ''}" data-name="${esc(`${layer} #${r.filter}`)}" data-index="${i}" data-activation="${r.dead ? '' : (r.activation?.end ?? '')}" data-gain="${Number.isFinite(gain) && !r.dead ? gain : ''}" data-orientation="${Number.isFinite(o) ? o.toFixed(4) : ''}">${
          src ? tileHtml(src, `${layer} filter ${r.filter}`) : '<span class="muted">no image</span>'
        }<span>${esc(label)}</span><div class="details">${details(r, recipe)}</div></div>`;
      });
    parts.push(`<section id="${id}"><h2>${esc(layer)}</h2>${summary}
${sheet ? `<p><img class="sheet" src="${href(sheet)}" alt="contact sheet of ${esc(layer)}"></p><p class="muted">Contact sheet: ${links}</p>` : ''}
<div class="controls"><label>Sort tiles by <select class="sort" data-grid="grid-${li}"><option value="index">sheet order</option><option value="activation">final activation</option><option value="gain">activation gain</option><option value="orientation">orientation (vertical first)</option></select></label><span class="muted">click a tile to zoom</span></div>
<div class="grid" id="grid-${li}">${tiles.join('')}</div></section>`);
  }
  if (layers.length === 0) parts.push('<section><h2>Filters</h2><p class="muted">This manifest lists no filters.</p></section>');
  const layerTable = summaries.size
    ? `<section id="layers"><h2>Layers</h2>${table(
        ['layer', 'filters', 'dead', 'mean activation gain', 'vertical', 'horizontal'],
        [...summaries.values()].map((l) => [`<a href="#layer-${layers.indexOf(l.layer)}">${esc(l.layer)}</a>`, String(l.filters ?? ''), String(l.dead ?? ''), num(l.meanActivationGain), String(l.vertical ?? ''), String(l.horizontal ?? '')]),
      )}</section>`
    : '';
  return { nav: layerTable ? [{ id: 'layers', label: 'layers' }, ...nav] : nav, html: layerTable + parts.join('\n') };
};
