/**
 * The ablation section: per layer, the intact network's scores, the importance curve the run plotted,
 * and every filter's PSNR and SSIM change when zeroed, most important first (from ablate-<layer>.json).
 */
import type { SectionRenderer } from './context.js';
import { existing, readJsonInside } from './files.js';
import { esc, fileLinks, href, num, numCell, sortableTable, table } from './html.js';

interface LayerEntry {
  layer: string;
  filters?: number;
  images?: number;
  baseline?: { psnr: number; ssim: number };
  order?: number[];
  wallTimeMs?: number;
}

interface AblateJson extends LayerEntry {
  importance?: { filter: number; dPsnr: number; dSsim: number }[];
}

export const ablateSection: SectionRenderer = async (ctx) => {
  const layers = ((ctx.manifest.layers ?? []) as LayerEntry[]).filter((l) => l && typeof l.layer === 'string');
  const nav = [{ id: 'ablation', label: 'summary' }];
  const parts: string[] = [];
  const summaryRows: string[][] = [];
  for (const [i, l] of layers.entries()) {
    const id = `ablate-${i}`;
    nav.push({ id, label: l.layer });
    const jsonFile = await existing(ctx, `ablate-${l.layer}.json`);
    const json = jsonFile ? await readJsonInside<AblateJson>(ctx, jsonFile) : undefined;
    const plot = await existing(ctx, `ablate-${l.layer}.png`);
    const importance = json?.importance ?? [];
    const byFilter = new Map(importance.map((f) => [f.filter, f]));
    // The run's order (largest PSNR loss first), else sorted here.
    const order = (l.order ?? json?.order ?? [...importance].sort((a, b) => a.dPsnr - b.dPsnr).map((f) => f.filter)).filter((f) => byFilter.has(f));
    const harmless = importance.filter((f) => f.dPsnr >= 0).length;
    const worst = byFilter.get(order[0] ?? -1);
    summaryRows.push([`<a href="#${id}">${esc(l.layer)}</a>`, String(l.filters ?? ''), String(l.images ?? ''), num(l.baseline?.psnr), num(l.baseline?.ssim), worst ? `#${worst.filter}: ${num(worst.dPsnr)} dB` : '–', importance.length ? String(harmless) : '–']);
    const rows = order.map((f, rank) => {
      const x = byFilter.get(f)!;
      return [numCell(rank + 1), numCell(x.filter), numCell(x.dPsnr), numCell(x.dSsim)];
    });
    parts.push(`<section id="${id}"><h2>${esc(l.layer)}</h2><p class="muted">${l.filters ?? '?'} filters zeroed one at a time on ${l.images ?? '?'} held-out images; intact network: PSNR ${num(l.baseline?.psnr)} dB, SSIM ${num(l.baseline?.ssim)}</p>
${plot ? `<p><img class="sheet" src="${href(plot)}" alt="importance of the filters of ${esc(l.layer)}"></p>` : ''}
${rows.length ? `<details open><summary>filters, most important first (click a column to sort)</summary>${sortableTable(['rank', 'filter', 'PSNR change (dB)', 'SSIM change'], rows, `${id}-filters`)}</details>` : '<p class="muted">no per-filter scores (ablate-*.json missing)</p>'}
<p>Files: ${fileLinks([['plot PNG', plot], ['scores JSON', jsonFile]]) || '–'}</p></section>`);
  }
  const summary = `<section id="ablation"><h2>Ablation</h2>${table(['layer', 'filters', 'images', 'PSNR intact (dB)', 'SSIM intact', 'most important filter', 'filters whose removal does not lower PSNR'], summaryRows)}<p class="muted">A change is the mean score with that filter's output zeroed minus the intact network's: negative means the filter helped.</p></section>`;
  return { nav, html: summary + parts.join('\n') };
};
