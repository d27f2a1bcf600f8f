/**
 * The pruning section (from prune.json): parameters before and after, the full and the pruned model's
 * scores on the same held-out images, and per layer the filters kept and removed, with why each
 * removed one went (dead on data, or its ablation score).
 */
import type { SectionRenderer } from './context.js';
import { existing } from './files.js';
import { esc, fileLinks, num, numCell, sortableTable, table, textCell } from './html.js';

interface Selection {
  layer: string;
  filters: number;
  dead?: number[];
  remove?: number[];
  scores?: Record<string, number>;
}

export interface PruneJson {
  model?: string;
  config?: Record<string, unknown>;
  removed?: Record<string, number[]>;
  paramsBefore?: number;
  paramsAfter?: number;
  folded?: string[];
  layers?: Selection[];
  quality?: { full?: { psnr: number; ssim: number }; pruned?: { psnr: number; ssim: number }; n?: number };
  wallTimeMs?: number;
}

/** Filter indices as compact ranges: 0-3, 7, 9-10. */
function ranges(list: readonly number[]): string {
  const sorted = [...list].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return out.join(', ') || 'none';
}

export const pruneSection: SectionRenderer = async (ctx) => {
  const p = ((ctx.manifest as { prune?: PruneJson }).prune ?? {}) as PruneJson;
  const layers = (p.layers ?? []).filter((l) => l && typeof l.layer === 'string');
  const before = p.paramsBefore;
  const after = p.paramsAfter;
  const q = p.quality ?? {};
  const totals = table(
    ['', 'full model', 'pruned model', 'change'],
    [
      ['parameters', before?.toLocaleString('en-US') ?? '–', after?.toLocaleString('en-US') ?? '–', before && after !== undefined ? `${num(after - before)} (${num(100 * (after / before - 1))}%)` : '–'],
      [`PSNR (dB) on ${q.n ?? '?'} held-out images`, num(q.full?.psnr), num(q.pruned?.psnr), num((q.pruned?.psnr ?? NaN) - (q.full?.psnr ?? NaN))],
      ['SSIM', num(q.full?.ssim), num(q.pruned?.ssim), num((q.pruned?.ssim ?? NaN) - (q.full?.ssim ?? NaN))],
    ],
  );
  const rows = layers.map((l) => {
    const removed = new Set(l.remove ?? []);
    const kept = Array.from({ length: l.filters }, (_, f) => f).filter((f) => !removed.has(f));
    return [textCell(l.layer), numCell(l.filters), numCell(kept.length), numCell(removed.size), numCell(l.dead?.length ?? 0), textCell(ranges(kept)), textCell(ranges([...removed]))];
  });
  const parts = layers.map((l, i) => {
    const dead = new Set(l.dead ?? []);
    const removed = l.remove ?? [];
    return `<section id="prune-${i}"><h3>${esc(l.layer)}</h3>${
      removed.length
        ? sortableTable(
            ['removal order', 'filter', 'why', 'PSNR change when ablated (dB)'],
            removed.map((f, k) => [numCell(k + 1), numCell(f), textCell(dead.has(f) ? 'dead on data' : 'ablation score'), numCell(l.scores?.[String(f)])]),
            `prune-${i}-removed`,
          )
        : '<p class="muted">nothing removed</p>'
    }</section>`;
  });
  const files = fileLinks([['prune.json', await existing(ctx, 'prune.json')], ['model.json', await existing(ctx, 'model.json')]]);
  const html = `<section id="pruning"><h2>Pruning</h2>${totals}${p.folded?.length ? `<p class="muted">Convolutions whose bias absorbed the constant output of removed filters: ${esc(p.folded.join(', '))}</p>` : ''}
<h3>Filters per layer <span class="muted">(click a column to sort)</span></h3>${sortableTable(['layer', 'filters', 'kept', 'removed', 'dead on data', 'kept filters', 'removed filters'], rows, 'prune-layers')}
<p>Files: ${files || '–'}</p></section>
<section id="removed"><h2>Removed filters</h2><p class="muted">Dead filters go first, then the least important by ablation score (the PSNR change when the filter is zeroed: closest to zero or positive first).</p>${parts.join('\n')}</section>`;
  return { nav: [{ id: 'pruning', label: 'pruning' }, { id: 'removed', label: 'removed filters' }], html };
};
