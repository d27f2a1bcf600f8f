/**
 * The examples section: per layer, the sheet of the real patches that excite each chosen filter most
 * (one row per filter, best first, after its synthetic image when the run made one), and a sortable
 * table of every patch: its filter, rank, activation, source slice and position.
 */
import type { SectionRenderer } from './context.js';
import { existing, failedSection } from './files.js';
import { esc, href, num, numCell, sortableTable, textCell } from './html.js';

interface PatchEntry {
  source: string;
  unit?: [number, number];
  center?: [number, number];
  crop?: [number, number, number, number];
  activation?: number;
}

interface LayerEntry {
  layer: string;
  receptiveField?: { size: number; jump: number };
  stride?: number;
  sheet?: string;
  filters?: { filter: number; synthetic?: { activation: number }; patches?: PatchEntry[] }[];
}

function isLayerEntry(r: unknown): r is LayerEntry {
  return typeof r === 'object' && r !== null && typeof (r as LayerEntry).layer === 'string' && Array.isArray((r as LayerEntry).filters);
}

export const examplesSection: SectionRenderer = async (ctx) => {
  // A pipeline run records the layers as its results; the examples command's own manifest as `layers`.
  const m = ctx.manifest as typeof ctx.manifest & { slices?: number; failures?: { input: string; error: string }[] };
  const layers = [...(m.results ?? []), ...(m.results?.some(isLayerEntry) ? [] : (m.layers ?? []))].filter(isLayerEntry);
  const config = (m.config ?? {}) as { synthetic?: boolean; ascend?: { synthetic?: boolean; top?: number }; top?: number };
  const synthetic = config.synthetic ?? config.ascend?.synthetic;
  const nav: { id: string; label: string }[] = [];
  const parts: string[] = [];
  for (const [li, l] of layers.entries()) {
    const id = `layer-${li}`;
    nav.push({ id, label: l.layer });
    const sheet = await existing(ctx, l.sheet);
    const filters = l.filters ?? [];
    const rows = filters.flatMap((f) =>
      (f.patches ?? []).map((p, rank) => [
        numCell(f.filter),
        numCell(rank + 1),
        numCell(p.activation),
        textCell(p.source),
        p.center ? { html: `${p.center[0]}, ${p.center[1]}`, value: p.center[1] * 1e6 + p.center[0] } : textCell('–'),
        p.crop ? textCell(`${p.crop[0]}, ${p.crop[1]}, ${p.crop[2]} x ${p.crop[3]}`) : textCell('–'),
        numCell(f.synthetic?.activation),
      ]),
    );
    const rf = l.receptiveField;
    const about = `${filters.length} filters${l.stride !== undefined ? `; map stride ${l.stride} input pixels` : ''}${rf ? `; receptive field ${Number.isFinite(rf.size) ? `${num(rf.size)} px` : 'the whole image'} (jump ${num(rf.jump)})` : ''}`;
    parts.push(`<section id="${id}"><h2>${esc(l.layer)}</h2><p class="muted">${esc(about)}</p>
${sheet ? `<p><img class="sheet" src="${href(sheet)}" alt="top patches of ${esc(l.layer)}"></p><p class="muted">One row per filter (in the table's filter order)${synthetic ? ': its synthetic image (what maximises it), then' : ':'} the real patches that excite it most, best first, each cropped to the unit's receptive field; the number is the unit's activation.</p>` : '<p class="muted">sheet missing</p>'}
<h3>Patches <span class="muted">(click a column to sort)</span></h3>${rows.length ? sortableTable(['filter', 'rank', 'activation', 'source slice', 'centre x, y (px)', 'crop x, y, w x h', 'synthetic activation'], rows, `${id}-patches`) : '<p class="muted">no patches</p>'}</section>`);
  }
  if (layers.length === 0) parts.push('<section><h2>Examples</h2><p class="muted">This manifest lists no layers.</p></section>');
  const failed = failedSection(m.failures ?? []);
  const intro = m.slices !== undefined ? `<p class="muted">Searched ${m.slices} slice${m.slices === 1 ? '' : 's'}.</p>` : '';
  return { nav: [...nav, ...failed.nav], html: intro + parts.join('\n') + failed.html };
};
