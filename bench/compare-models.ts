/**
 * Both shipped networks side by side (issue 21, item 4): the seed's contact sheets, the per-layer
 * orientation/spectrum readings the filters manifest records, and the dissection labels, for `builtin`
 * (trained on phantoms) and `mri` (fine-tuned on Colin27 slices and phantoms). Everything is computed by
 * the project's own library: the contact-sheet pipeline file run through `validatePipeline` +
 * `runPipeline`, and `runDissect`. This script only composes figures and writes the tables.
 *
 *   npx tsx bench/compare-models.ts [--models builtin,mri] [--phantoms 50] [--scratch DIR]
 *
 * Writes docs/figures/models/<layer>.png and docs/MODELS-COMPARED.md. Intermediate runs (sheets,
 * manifests, dissect.json) go to a scratch folder under the OS temp folder unless --scratch names one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { selectBackend } from '../src/engine/backend.js';
import { applyOverrides, readPipelineFile } from '../src/pipeline/file.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import { runDissect } from '../src/dissect/run.js';
import { DISSECT_DEFAULTS, FILTER_LABELS, type FilterLabel } from '../src/dissect/dissect.js';
import { SEED_LAYERS } from '../src/model/unet.js';
import type { LayerReadings } from '../src/ascent/readings.js';
import type { FilterRecord, LayerSummary as SheetLayer } from '../src/modes/filters/records.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PIPELINE = 'pipelines/contact-sheets.yaml';
const FIGURES = 'docs/figures/models';
const DOC = 'docs/MODELS-COMPARED.md';
const MAX_PNG_BYTES = 300 * 1024;
const DISSECT_SEED = 12345;
const DISSECT_SIZE = 128;

const DESCRIPTIONS: Record<string, string> = {
  builtin: 'builtin: unet-phantom, trained on phantoms',
  mri: 'mri: unet-mri, fine-tuned on Colin27 + phantoms',
};

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'builtin,mri' },
    phantoms: { type: 'string', default: '50' },
    scratch: { type: 'string' },
  },
});
const models = args.models!.split(',').map((s) => s.trim()).filter(Boolean);
const phantoms = Number(args.phantoms);
if (!models.length) throw new Error(`Expected a comma-separated list of models for --models but received "${args.models}"`);
if (!Number.isInteger(phantoms) || phantoms < 1) throw new Error(`Expected an integer >= 1 for --phantoms but received ${args.phantoms}`);
const scratch = path.resolve(args.scratch ?? mkdtempSync(path.join(os.tmpdir(), 'compare-models-')));
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

type Readings = SheetLayer & LayerReadings;
interface ModelRun {
  model: string;
  modelId: string;
  sha256: string;
  sheets: Map<string, string>;
  readings: Map<string, Readings>;
  dissect: Map<string, Record<FilterLabel, number>>;
  dissectImages: number;
  maskFractions: { aliasing: number; edge: number };
  sheetsMs: number;
  dissectMs: number;
}

async function runModel(model: string): Promise<ModelRun> {
  const out = path.join(scratch, model);
  // The seed's contact sheets, exactly as `unet-dream run pipelines/contact-sheets.yaml --model M` runs them.
  const { raw } = await readPipelineFile(path.join(root, PIPELINE));
  const pipeline = validatePipeline(applyOverrides(raw, [`model.source=${model}`, `write.out=${path.join(out, 'sheets')}`]));
  log(`${model}: contact sheets (load ${load()})`);
  let t = performance.now();
  const manifest = await runPipeline(pipeline, { command: `run ${PIPELINE} --model ${model}`, onEvent: (e) => e.type === 'warn' && log(`warn: ${e.message}`) });
  const sheetsMs = performance.now() - t;
  const records = manifest.results as FilterRecord[];
  const sheets = new Map<string, string>();
  for (const r of records) sheets.set(r.layer, path.join(out, 'sheets', r.file));
  const readings = new Map((manifest.layers as Readings[]).map((l) => [l.layer, l]));

  log(`${model}: dissect on ${phantoms} held-out phantoms (load ${load()})`);
  t = performance.now();
  const run = await runDissect(
    {
      model,
      source: { kind: 'phantoms', n: phantoms },
      size: DISSECT_SIZE,
      seed: DISSECT_SEED,
      undersampling: { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' },
      out: path.join(out, 'dissect'),
      layers: [...SEED_LAYERS],
      ...DISSECT_DEFAULTS,
      sheets: false,
    },
    (e) => e.type === 'warn' && log(`warn: ${e.message}`),
  );
  const dissectMs = performance.now() - t;
  if (run.failed.length) throw new Error(`dissect ${model}: ${run.failed.map((f) => f.error).join('; ')}`);
  return {
    model,
    modelId: manifest.model.id,
    sha256: manifest.model.sha256,
    sheets,
    readings,
    dissect: new Map(run.result.layers.map((l) => [l.layer, l.counts])),
    dissectImages: run.result.images,
    maskFractions: run.result.maskFractions,
    sheetsMs,
    dissectMs,
  };
}

/** A label strip above a panel. */
function label(text: string, width: number, height: number): Buffer {
  const esc = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>` +
      `<text x="8" y="${Math.round(height * 0.72)}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(height * 0.6)}" fill="black">${esc}</text></svg>`,
  );
}

/** One figure per layer: each model's sheet under its label, side by side, as a PNG under MAX_PNG_BYTES. */
async function composeFigure(layer: string, runs: ModelRun[]): Promise<{ file: string; bytes: number; width: number }> {
  const LABEL = 26;
  const GAP = 12;
  for (let width = 760; ; width -= 80) {
    const panels = await Promise.all(
      runs.map(async (r) => {
        const img = await sharp(r.sheets.get(layer)!).resize({ width, kernel: 'lanczos3' }).png().toBuffer({ resolveWithObject: true });
        return { ...img, title: `${DESCRIPTIONS[r.model] ?? r.model} - ${layer}` };
      }),
    );
    const height = LABEL + Math.max(...panels.map((p) => p.info.height));
    const total = panels.length * width + (panels.length - 1) * GAP;
    const composites = panels.flatMap((p, i) => [
      { input: label(p.title, width, LABEL), left: i * (width + GAP), top: 0 },
      { input: p.data, left: i * (width + GAP), top: LABEL },
    ]);
    const png = await sharp({ create: { width: total, height, channels: 3, background: 'white' } })
      .composite(composites)
      .png({ palette: true, quality: 90, compressionLevel: 9, effort: 8 })
      .toBuffer();
    if (png.length < MAX_PNG_BYTES || width <= 360) {
      const file = path.join(root, FIGURES, `${layer}.png`);
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, png);
      renameSync(tmp, file);
      return { file, bytes: png.length, width: total };
    }
  }
}

const f2 = (v: number) => v.toFixed(2);
const sign = (v: number, d = 2) => `${v >= 0 ? '+' : ''}${v.toFixed(d)}`;

function readingsTable(runs: ModelRun[]): string {
  const cols = ['filters', 'dead', 'HF share', 'vertical share', 'horizontal share', 'oblique share', 'V/H/O filters', 'median angle off vertical'];
  const cell = (r: Readings): string[] => [
    String(r.filters),
    String(r.dead),
    f2(r.hfShare),
    f2(r.verticalShare),
    f2(r.horizontalShare),
    f2(r.obliqueShare),
    `${r.vertical}/${r.horizontal}/${r.oblique}`,
    `${r.medianAngleOffVertical.toFixed(0)} deg`,
  ];
  const head = `| layer | model | ${cols.join(' | ')} |\n|${' --- |'.repeat(cols.length + 2)}`;
  const rows = SEED_LAYERS.flatMap((layer) => runs.map((run) => `| ${layer} | ${run.model} | ${cell(run.readings.get(layer)!).join(' | ')} |`));
  return [head, ...rows].join('\n');
}

function dissectTable(runs: ModelRun[]): string {
  const head = `| layer | filters | ${FILTER_LABELS.map((l) => `${l} (${runs.map((r) => r.model).join(' / ')})`).join(' | ')} |\n|${' --- |'.repeat(FILTER_LABELS.length + 2)}`;
  const rows = SEED_LAYERS.map((layer) => {
    const counts = runs.map((r) => r.dissect.get(layer)!);
    const filters = FILTER_LABELS.reduce((s, l) => s + counts[0]![l], 0);
    return `| ${layer} | ${filters} | ${FILTER_LABELS.map((l) => counts.map((c) => c[l]).join(' / ')).join(' | ')} |`;
  });
  return [head, ...rows].join('\n');
}

/** What differs, stated only from the numbers above: mri minus builtin, per layer and in total. */
function reading(a: ModelRun, b: ModelRun): string[] {
  const lines: string[] = [];
  const diff = (f: (r: Readings) => number) => SEED_LAYERS.map((l) => ({ layer: l, d: f(b.readings.get(l)!) - f(a.readings.get(l)!) }));
  const describe = (name: string, ds: { layer: string; d: number }[], eps: number) => {
    const up = ds.filter((x) => x.d > eps).map((x) => `${x.layer} ${sign(x.d)}`);
    const down = ds.filter((x) => x.d < -eps).map((x) => `${x.layer} ${sign(x.d)}`);
    const same = ds.length - up.length - down.length;
    return `- ${name}, ${b.model} minus ${a.model}: higher in ${up.length} of ${ds.length} layers${up.length ? ` (${up.join(', ')})` : ''}, lower in ${down.length}${down.length ? ` (${down.join(', ')})` : ''}, within +-${eps} in ${same}.`;
  };
  lines.push(describe('High-frequency share of the filters\' images', diff((r) => r.hfShare), 0.02));
  lines.push(describe('Vertical-stripe share (variation along x, the undersampled axis)', diff((r) => r.verticalShare), 0.02));
  lines.push(describe('Horizontal-stripe share', diff((r) => r.horizontalShare), 0.02));
  const vh = (run: ModelRun) => SEED_LAYERS.reduce((s, l) => {
    const r = run.readings.get(l)!;
    return { v: s.v + r.vertical, h: s.h + r.horizontal, o: s.o + r.oblique, n: s.n + r.filters - r.dead, dead: s.dead + r.dead };
  }, { v: 0, h: 0, o: 0, n: 0, dead: 0 });
  const [va, vb] = [vh(a), vh(b)];
  lines.push(`- Of the ${SEED_LAYERS.length * 16} visualised filters (16 per layer, the same indices for both), live ones that read as vertical / horizontal / oblique: ${a.model} ${va.v} / ${va.h} / ${va.o} of ${va.n}, ${b.model} ${vb.v} / ${vb.h} / ${vb.o} of ${vb.n}; dead (no gradient from the noise start): ${va.dead} and ${vb.dead}.`);
  const tot = (run: ModelRun) => Object.fromEntries(FILTER_LABELS.map((l) => [l, SEED_LAYERS.reduce((s, layer) => s + run.dissect.get(layer)![l], 0)])) as Record<FilterLabel, number>;
  const [ta, tb] = [tot(a), tot(b)];
  const n = FILTER_LABELS.reduce((s, l) => s + ta[l], 0);
  lines.push(`- Dissection over all ${n} filters of the seven layers on the same ${a.dissectImages} phantoms: ${FILTER_LABELS.map((l) => `${l} ${ta[l]} -> ${tb[l]}`).join(', ')} (${a.model} -> ${b.model}).`);
  const moved = FILTER_LABELS.map((l) => ({ l, layers: SEED_LAYERS.filter((layer) => a.dissect.get(layer)![l] !== b.dissect.get(layer)![l]) }));
  const largest = SEED_LAYERS.map((layer) => ({ layer, d: FILTER_LABELS.reduce((s, l) => s + Math.abs(a.dissect.get(layer)![l] - b.dissect.get(layer)![l]), 0) / 2 })).sort((x, y) => y.d - x.d)[0]!;
  for (const l of ['aliasing', 'edge', 'both'] as const) {
    const changed = SEED_LAYERS.filter((layer) => a.dissect.get(layer)![l] !== b.dissect.get(layer)![l]).map((layer) => `${layer} ${a.dissect.get(layer)![l]} -> ${b.dissect.get(layer)![l]}`);
    lines.push(`- Filters labelled ${l}, per layer where the count changed: ${changed.length ? changed.join(', ') : 'none changed'}.`);
  }
  lines.push(`- The layer whose labels moved most: ${largest.layer} (${largest.d} filters changed label, at least). Labels that changed in some layer: ${moved.filter((m) => m.layers.length).map((m) => m.l).join(', ') || 'none'}.`);
  return lines;
}

function relFig(layer: string) {
  return `figures/models/${layer}.png`;
}

const startedAt = new Date();
const loadStart = load();
await selectBackend('auto');
mkdirSync(path.join(root, FIGURES), { recursive: true });
log(`scratch: ${scratch}`);
const runs: ModelRun[] = [];
for (const m of models) runs.push(await runModel(m));
const figures = [];
for (const layer of SEED_LAYERS) {
  const fig = await composeFigure(layer, runs);
  figures.push({ layer, ...fig });
  log(`figure ${path.relative(root, fig.file)}: ${fig.bytes} bytes, ${fig.width} px wide`);
}
// performance.now() counts from process start: module loading is part of the wall time.
const wallS = performance.now() / 1000;
const cpu = process.cpuUsage();
const cpuS = (cpu.user + cpu.system) / 1e6;
const loadEnd = load();
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
} catch {
  // Not a git checkout: the doc says "unknown".
}
const command = `npx tsx bench/compare-models.ts --models ${models.join(',')} --phantoms ${phantoms}`;
const doc = [
  '# The two shipped networks compared',
  '',
  `What training on real anatomy changes in the filters: \`builtin\` (models/unet-phantom, trained on simulated`,
  'phantoms as the seed did) next to `mri` (models/unet-mri, started from it and fine-tuned on brain slices (Colin27, INIA19) and',
  'phantoms; see its README). Everything below is written by one command; rerun it after replacing a model:',
  '',
  '```sh',
  command,
  '```',
  '',
  `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${commit}, on the project's 2-core machine shared with other jobs`,
  `(1/5/15-min load ${loadStart} at the start, ${loadEnd} at the end): ${wallS.toFixed(0)} s wall from process start, ${cpuS.toFixed(0)} s CPU (user + system, this process`,
  `and its worker threads). Per model:`,
  ...runs.map((r) => `\`${r.model}\` (${r.modelId}, sha256 ${r.sha256.slice(0, 12)}...): contact sheets ${(r.sheetsMs / 1000).toFixed(0)} s, dissection ${(r.dissectMs / 1000).toFixed(0)} s.`).map((s) => `- ${s}`),
  '',
  '## Contact sheets',
  '',
  `The seed's figures (\`${PIPELINE}\`, unchanged but for the model): per layer the same 16 filter indices`,
  '(`random:16`, seed 0), 20 steps of RMS-normalised gradient ascent from the same uniform noise in [0, 2), 128x128,',
  'viridis, each tile windowed on its own. Left and right panels are the two models; filter k sits in the same place in',
  'both. Panels are scaled down to keep each figure small.',
  '',
  ...figures.flatMap((f) => [`### ${f.layer}`, '', `![${f.layer}: ${runs.map((r) => r.model).join(' | ')}](${relFig(f.layer)})`, '']),
  '## Orientation and spectrum of the filters\' images',
  '',
  'Read from the filters manifest of the runs above (`layers` in manifest.json, `src/ascent/readings.ts`): shares of the',
  'non-DC spectral energy of each filter\'s final image, averaged over the live filters of the 16: above half Nyquist',
  '(HF), within 26.6 degrees of vertical stripes (variation along x, the phase-encoding axis the aliasing runs along),',
  'of horizontal stripes, and the rest (oblique). V/H/O counts the live filters whose vertical share is over twice the',
  'horizontal one, the reverse, or neither. Dead = no gradient from the noise start.',
  '',
  readingsTable(runs),
  '',
  '## Dissection labels',
  '',
  `\`dissect\` (\`runDissect\`, network dissection: a unit's top 0.5% activations against the aliasing mask |zero-filled -`,
  `target| > ${DISSECT_DEFAULTS.aliasThreshold} and the edge mask |grad target| > ${DISSECT_DEFAULTS.edgeThreshold}, IoU from ${DISSECT_DEFAULTS.iouThreshold}) on every filter of the seven layers,`,
  `over ${phantoms} held-out phantoms (a modest count to keep the run short; the dissect command's default is 200), ${DISSECT_SIZE}x${DISSECT_SIZE},`,
  `R = 4, random Cartesian mask with 8% centre, seed ${DISSECT_SEED}: the same images for both models`,
  `(mask fractions: aliasing ${runs.map((r) => `${(100 * r.maskFractions.aliasing).toFixed(1)}%`).join(' / ')}, edge ${runs.map((r) => `${(100 * r.maskFractions.edge).toFixed(1)}%`).join(' / ')}).`,
  'Cells are counts, one per model, in the order of the header. "dead" is dead on these data (never active).',
  'Phantoms, not real slices, are the probe: they have exact targets, so the aliasing mask is exact.',
  '',
  dissectTable(runs),
  '',
  ...(runs.length === 2
    ? ['## What the numbers show', '', 'Computed from the two tables above by the same script (a difference under 0.02 in a share is called "within"):', '', ...reading(runs[0]!, runs[1]!), '']
    : []),
  'Limits: 16 filters per layer is a sample (dconv256 has 256 filters, conv512 512); one noise start per filter; the',
  `spectrum readings describe the synthetic images, not the filters' responses to real MR; dissection runs on ${phantoms}`,
  'phantoms, where both models were trained (mri only partly), not on real slices.',
  '',
].join('\n');
writeFileSync(path.join(root, `${DOC}.tmp-${process.pid}`), doc);
renameSync(path.join(root, `${DOC}.tmp-${process.pid}`), path.join(root, DOC));
log(`wrote ${DOC} in ${wallS.toFixed(0)} s (load ${loadEnd})`);
