/**
 * index.html of an output folder, built from its manifest.json alone (plus the files it names): one
 * page that opens from the file system or any static server, with no network and only relative links.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { ReportContext, type LooseManifest, type SectionRenderer } from './context.js';
import { dreamSection } from './dream.js';
import { filtersSection } from './filters.js';
import { esc, num, page } from './html.js';

/** Run modes to section renderers (a new mode adds one line). Batches are dream runs. */
export const REPORT_SECTIONS: Readonly<Record<string, SectionRenderer>> = Object.freeze({
  filters: filtersSection,
  dream: dreamSection,
});

/** Any other mode: its results as they are, so a report never fails on a manifest it does not know. */
const genericSection: SectionRenderer = async (ctx) => ({
  nav: [{ id: 'results', label: 'results' }],
  html: `<section id="results"><h2>Results</h2><p class="muted">This report has no view for this kind of run yet; the manifest's results follow.</p><pre>${esc(JSON.stringify(ctx.manifest.results ?? [], null, 2))}</pre></section>`,
});

/** The run's mode: the config says; older manifests are recognised by their records. */
export function modeOf(manifest: LooseManifest): string {
  const mode = manifest.config?.ascend?.mode;
  if (typeof mode === 'string') return mode;
  const first = manifest.results?.[0] as Record<string, unknown> | undefined;
  if (first && 'layer' in first && 'filter' in first) return 'filters';
  if (first && 'input' in first) return 'dream';
  return 'unknown';
}

function header(m: LooseManifest, mode: string): string {
  const model = m.model ?? {};
  const engine = m.engine ?? {};
  const rows: [string, string][] = [
    ['command', `<code>unet-dream ${esc(m.command ?? '?')}</code>`],
    ['mode', esc(mode)],
    ['model', `${esc(model.id ?? '?')}${model.trained === false ? ' <strong>(untrained weights)</strong>' : ''}${model.note ? ` <span class="muted">${esc(model.note)}</span>` : ''}`],
    ['model sha256', `<code>${esc(model.sha256 ?? '?')}</code>`],
    ['engine', esc([engine.engine, engine.backend, engine.provider].filter(Boolean).join(' / ') || '?')],
    ['seed', esc(m.seed ?? '?')],
    ['started', esc(m.startedAt ?? '?')],
    ['wall time', m.wallTimeMs !== undefined ? `${num(m.wallTimeMs / 1000)} s` : '?'],
    ['versions', esc(Object.entries(m.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || '?')],
  ];
  const stats = engine.stats ? `<details><summary>engine timings</summary><pre>${esc(JSON.stringify(engine.stats, null, 2))}</pre></details>` : '';
  return `<header><h1>unet-dream: ${esc(m.command ?? 'run')}</h1>
<table class="kv">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>
${stats}<details><summary>config</summary><pre>${esc(JSON.stringify(m.config ?? {}, null, 2))}</pre></details>
<p class="muted">Files: <a href="manifest.json">manifest.json</a></p></header>`;
}

export interface ReportResult {
  file: string;
  /** Bytes of index.html plus everything written under report/. */
  bytes: number;
  ms: number;
  /** CPU time of this process while building (sharp's threads included): the wall time on a busy machine says little. */
  cpuMs: number;
}

export async function buildReport(dir: string): Promise<ReportResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const manifestFile = path.join(dir, 'manifest.json');
  let manifest: LooseManifest;
  try {
    manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as LooseManifest;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(manifestFile, code === 'ENOENT' ? 'no manifest.json: not an unet-dream output folder' : `not a readable manifest (${code ?? (err as Error).message})`);
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) throw new InputError(manifestFile, 'not a manifest: expected a JSON object');
  const ctx = new ReportContext(dir, manifest);
  const mode = modeOf(manifest);
  const section = await (REPORT_SECTIONS[mode] ?? genericSection)(ctx);
  const html = page({ title: `unet-dream ${manifest.command ?? 'report'}`, header: header(manifest, mode), nav: section.nav, sections: [section.html] });
  const file = path.join(dir, 'index.html');
  await writeFileAtomic(file, html);
  const used = process.cpuUsage(cpu);
  return { file, bytes: Buffer.byteLength(html) + ctx.assetBytes, ms: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000) };
}
