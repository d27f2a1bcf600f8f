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
import { esc, num, page } from './html.js';
import type { PruneJson } from './prune.js';

/**
 * Run modes and commands to their section renderers (a new one adds one line). Batches are dream runs.
 * Loaded on demand: `unet-dream report` on a filters folder never loads the MR readers a dream needs.
 */
export const REPORT_SECTIONS: Readonly<Record<string, () => Promise<SectionRenderer>>> = Object.freeze({
  filters: async () => (await import('./filters.js')).filtersSection,
  dream: async () => (await import('./dream.js')).dreamSection,
  activations: async () => (await import('./activations.js')).activationsSection,
  attribute: async () => (await import('./attribute.js')).attributeSection,
  examples: async () => (await import('./examples.js')).examplesSection,
  dissect: async () => (await import('./dissect.js')).dissectSection,
  ablate: async () => (await import('./ablate.js')).ablateSection,
  prune: async () => (await import('./prune.js')).pruneSection,
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
  // Commands that are not pipeline modes (dissect, ablate, prune) and the real-slice commands' own manifests.
  const command = (manifest.command ?? '').split(' ')[0]!;
  if (command === 'batch') return 'dream';
  if (Object.hasOwn(REPORT_SECTIONS, command)) return command;
  const first = manifest.results?.[0] as Record<string, unknown> | undefined;
  if (first && 'layer' in first && 'filter' in first) return 'filters';
  if (first && 'input' in first) return 'dream';
  return 'unknown';
}

function header(m: LooseManifest, mode: string, source: string): string {
  const model = m.model ?? {};
  const engine = m.engine ?? {};
  const rows: [string, string][] = [
    ['command', `<code>unet-dream ${esc(m.command ?? '?')}</code>`],
    ['mode', esc(mode)],
    ['model', `${esc(model.id ?? '?')}${model.trained === false ? ' <strong>(untrained weights)</strong>' : ''}${model.note ? ` <span class="muted">${esc(model.note)}</span>` : ''}`],
    ['model sha256', `<code>${esc(model.sha256 ?? '?')}</code>`],
    ['engine', esc([engine.engine ?? model.engine, engine.backend ?? model.backend, engine.provider].filter(Boolean).join(' / ') || '?')],
    ['seed', esc(m.seed ?? '?')],
    ['started', esc(m.startedAt ?? '?')],
    ['wall time', m.wallTimeMs !== undefined ? `${num(m.wallTimeMs / 1000)} s` : '?'],
    ['versions', esc(Object.entries(m.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || '?')],
  ];
  const stats = engine.stats ? `<details><summary>engine timings</summary><pre>${esc(JSON.stringify(engine.stats, null, 2))}</pre></details>` : '';
  return `<header><h1>unet-dream: ${esc(m.command ?? 'run')}</h1>
<table class="kv">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>
${stats}<details><summary>config</summary><pre>${esc(JSON.stringify(m.config ?? {}, null, 2))}</pre></details>
<p class="muted">Files: <a href="${esc(source)}">${esc(source)}</a></p></header>`;
}

export interface ReportResult {
  file: string;
  /** Bytes of index.html plus everything written under report/. */
  bytes: number;
  ms: number;
  /** CPU time of this process while building (sharp's threads included): the wall time on a busy machine says little. */
  cpuMs: number;
}

async function readJson(file: string): Promise<{ value?: unknown; code?: string; message?: string; mtimeMs?: number }> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    return { value: JSON.parse(text) as unknown, mtimeMs: stat.mtimeMs };
  } catch (err) {
    return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message };
  }
}

/** `prune` writes a model folder with prune.json and no run manifest: its report is built from that file. */
function pruneManifest(p: PruneJson & { config?: { seed?: number } }): LooseManifest {
  return { command: 'prune', config: p.config, model: { id: p.model }, seed: p.config?.seed, wallTimeMs: p.wallTimeMs, results: [], prune: p } as LooseManifest;
}

/** The folder's manifest.json, or its prune.json when that is the newer (or only) one. */
async function readManifest(dir: string): Promise<{ manifest: LooseManifest; source: string }> {
  const manifestFile = path.join(dir, 'manifest.json');
  const [manifest, prune] = await Promise.all([readJson(manifestFile), readJson(path.join(dir, 'prune.json'))]);
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(prune.value) && (manifest.code === 'ENOENT' || (prune.mtimeMs ?? 0) > (manifest.mtimeMs ?? 0))) return { manifest: pruneManifest(prune.value as PruneJson), source: 'prune.json' };
  if (manifest.code !== undefined || manifest.message !== undefined) {
    throw new InputError(manifestFile, manifest.code === 'ENOENT' ? 'no manifest.json: not an unet-dream output folder' : `not a readable manifest (${manifest.code ?? manifest.message})`);
  }
  if (!isObject(manifest.value)) throw new InputError(manifestFile, 'not a manifest: expected a JSON object');
  return { manifest: manifest.value as LooseManifest, source: 'manifest.json' };
}

export async function buildReport(dir: string): Promise<ReportResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { manifest, source } = await readManifest(dir);
  const ctx = new ReportContext(dir, manifest);
  const mode = modeOf(manifest);
  const section = await ((await REPORT_SECTIONS[mode]?.()) ?? genericSection)(ctx);
  const html = page({ title: `unet-dream ${manifest.command ?? 'report'}`, header: header(manifest, mode, source), nav: section.nav, sections: [section.html] });
  const file = path.join(dir, 'index.html');
  await writeFileAtomic(file, html);
  const used = process.cpuUsage(cpu);
  return { file, bytes: Buffer.byteLength(html) + ctx.assetBytes, ms: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000) };
}
