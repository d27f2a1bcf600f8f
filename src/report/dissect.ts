/**
 * The dissection section: the per-layer label table (how many filters detect aliasing, edges, both,
 * neither, or are dead on data, and their mean IoU), then each layer's sheet, layers ordered by their
 * best aliasing IoU, with every filter's IoUs in a sortable table (from dissect.json).
 */
import type { SectionRenderer } from './context.js';
import { existing, readJsonInside } from './files.js';
import { esc, href, num, numCell, sortableTable, textCell } from './html.js';

const LABELS = ['aliasing', 'edge', 'both', 'neither', 'dead'] as const;
type Label = (typeof LABELS)[number];

interface LayerSummary {
  layer: string;
  filters?: number;
  side?: number;
  counts?: Partial<Record<Label, number>>;
  meanIoU?: Partial<Record<Label, { aliasing: number; edge: number } | null>>;
}

interface Unit {
  filter: number;
  label: string;
  aliasingIoU: number;
  edgeIoU: number;
  threshold?: number;
  max?: number;
  bestImage?: number;
  bestImageIoU?: number;
}

interface DissectJson {
  images?: number;
  size?: number;
  maskFractions?: { aliasing: number; edge: number };
  layers?: (LayerSummary & { units?: Unit[] })[];
  imageNames?: string[];
}

export const dissectSection: SectionRenderer = async (ctx) => {
  const json = await readJsonInside<DissectJson>(ctx, 'dissect.json');
  const fromManifest = ((ctx.manifest.layers ?? []) as LayerSummary[]).filter((l) => l && typeof l.layer === 'string');
  const summaries: LayerSummary[] = fromManifest.length ? fromManifest : (json?.layers ?? []);
  const units = new Map((json?.layers ?? []).map((l) => [l.layer, l.units ?? []]));
  const best = (layer: string) => Math.max(-Infinity, ...(units.get(layer) ?? []).map((u) => u.aliasingIoU));
  const config = (ctx.manifest.config ?? {}) as { iouThreshold?: number; quantile?: number };
  const about = json
    ? `<p>${json.images ?? '?'} images of ${json.size ?? '?'} x ${json.size ?? '?'}; the aliasing mask covers ${num(100 * (json.maskFractions?.aliasing ?? NaN))}% of their pixels, the edge mask ${num(100 * (json.maskFractions?.edge ?? NaN))}%. A filter detects a concept when the IoU of its top ${num(100 * (1 - (config.quantile ?? NaN)))}% activations with the concept's mask reaches ${num(config.iouThreshold)}.</p>`
    : '<p class="muted">dissect.json is missing: per-filter IoUs are not shown.</p>';
  const labelTable = sortableTable(
    ['layer', 'filters', ...LABELS, 'mean aliasing IoU (aliasing detectors)', 'mean edge IoU (edge detectors)', 'best aliasing IoU'],
    summaries.map((l, i) => [
      textCell(l.layer, `<a href="#dissect-${i}">${esc(l.layer)}</a>`),
      numCell(l.filters),
      ...LABELS.map((k) => numCell(l.counts?.[k] ?? 0)),
      numCell(l.meanIoU?.aliasing?.aliasing ?? undefined),
      numCell(l.meanIoU?.edge?.edge ?? undefined),
      numCell(units.has(l.layer) ? best(l.layer) : undefined),
    ]),
    'labels',
  );
  const order = summaries.map((l, i) => ({ l, i })).sort((a, b) => best(b.l.layer) - best(a.l.layer) || a.i - b.i);
  const nav = [{ id: 'label-table', label: 'labels' }];
  const parts: string[] = [];
  for (const { l, i } of order) {
    const id = `dissect-${i}`;
    nav.push({ id, label: l.layer });
    const sheet = await existing(ctx, `dissect-${l.layer}.png`);
    const us = units.get(l.layer) ?? [];
    const table = us.length
      ? `<details><summary>all ${us.length} filters (click a column to sort)</summary>${sortableTable(
          ['filter', 'label', 'aliasing IoU', 'edge IoU', 'threshold', 'max activation', 'best image', 'its aliasing IoU'],
          [...us].sort((a, b) => b.aliasingIoU - a.aliasingIoU).map((u) => [
            numCell(u.filter),
            textCell(u.label),
            numCell(u.aliasingIoU),
            numCell(u.edgeIoU),
            numCell(u.threshold),
            numCell(u.max),
            textCell(json?.imageNames?.[u.bestImage ?? -1] ?? String(u.bestImage ?? '–')),
            numCell(u.bestImageIoU),
          ]),
          `${id}-units`,
        )}</details>`
      : '';
    parts.push(`<section id="${id}"><h2>${esc(l.layer)}</h2><p class="muted">${l.filters ?? '?'} filters on a ${l.side ?? '?'} x ${l.side ?? '?'} map; best aliasing IoU ${num(best(l.layer))}</p>
${sheet ? `<p><img class="sheet" src="${href(sheet)}" alt="dissection sheet of ${esc(l.layer)}"></p><p class="muted">Filters by aliasing IoU, best first: what each wants (synthetic image), how it fires on the image where it best overlaps the aliasing, and that image's aliasing map.</p>` : '<p class="muted">no sheet for this layer (sheets off, or every filter dead)</p>'}
${table}</section>`);
  }
  return { nav, html: `<section id="label-table"><h2>Labels per layer</h2>${about}${labelTable}<p class="muted">Click a column to sort. Sheets below go from the layer with the best aliasing IoU down.</p></section>\n${parts.join('\n')}` };
};
