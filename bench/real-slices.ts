/**
 * Benchmarks of the real-slice modes on the default engine (ONNX Runtime), each through the same path
 * as the commands (validatePipeline, then runPipeline: run context, manifest, index.html):
 *
 * - activations: the seed's 7 layers on a 256x256 slice. `computeMs` is the 2 s goal's figure: with
 *   the model loaded and its graph compiled (a first slice done), one slice's forward pass, 7 contact
 *   sheets and 7 .npy files written (`activationsOnModel`). Also the first slice (graph compile), the
 *   whole run (`runMs`: model load, engine, one slice, manifest, report) and the end-to-end CLI
 *   (`cliMs`: `node dist/cli/bin.js activations ...`, process start to exit; needs `npm run build`).
 * - smoothgrad (50 samples) and integrated-gradients (64 steps) on a 256x256 slice: `methodMs` is the
 *   attribution of the slice (the record's `ms`), `runMs` the whole run; `batch` the images per engine
 *   call the memory budget chose.
 * - examples over 100 generated 256x256 slices for one layer (dconv256, 8 filters, top 9).
 * - with --chunks, also smoothgrad-batch1/2/4: SmoothGrad of 8 samples on a 256x256 slice at 1, 2 and 4
 *   images per engine call (`--batch`), for what the chunk size costs in time and peak RSS.
 *
 * Each section runs in its own process so its peak RSS (getrusage maxrss) is its own; CPU time
 * (user + system, all threads) is given beside wall time because the machine may be shared.
 *
 *   npx tsx bench/real-slices.ts              all sections, appends an entry to BENCHMARKS.md
 *   npx tsx bench/real-slices.ts --no-write   print only
 *   npx tsx bench/real-slices.ts --chunks     also the chunk-size sections
 *   npx tsx bench/real-slices.ts activations  one section, one JSON line
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SECTIONS = ['activations', 'smoothgrad', 'integrated-gradients', 'examples'] as const;
const CHUNK_SECTIONS = ['smoothgrad-batch1', 'smoothgrad-batch2', 'smoothgrad-batch4'] as const;
const here = path.dirname(fileURLToPath(import.meta.url));
const SLICE = 'phantom:random:1:256';

function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return Math.round((c.user + c.system) / 1000);
}

async function section(name: string): Promise<Record<string, unknown>> {
  const { validatePipeline } = await import('../src/pipeline/validate.js');
  const { runPipeline } = await import('../src/pipeline/run.js');
  const out = mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const run = (raw: Record<string, unknown>, dir: string) => runPipeline(validatePipeline({ ...raw, write: { ...(raw.write as object), out: dir } }), { command: 'bench' });
  if (name === 'activations') {
    const { SEED_LAYERS } = await import('../src/model/unet.js');
    const { openEngine } = await import('../src/run/context.js');
    const { activationsOnModel, activationsConfigSchema } = await import('../src/activations/activations.js');
    const layers = [...SEED_LAYERS];
    const l0 = performance.now();
    const ctx = await openEngine({ source: 'builtin', backend: 'auto', device: 'cpu' });
    const loadMs = performance.now() - l0;
    const config = activationsConfigSchema.parse({ inputs: [SLICE], layers, out });
    const opened = { model: ctx.loaded.model, engine: ctx.engine };
    const f0 = performance.now();
    await activationsOnModel(opened, config);
    const firstMs = performance.now() - f0;
    const computes: number[] = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await activationsOnModel(opened, config);
      computes.push(performance.now() - t);
    }
    const computeCpuMs = Math.round(cpuMs(c0) / 3);
    // The forward pass alone (all 7 layers as outputs of one graph), to split computeMs.
    const { padToMultiple, phantomImage, toSlice } = await import('../src/activations/slices.js');
    const slice = toSlice(phantomImage(SLICE), SLICE, 'p', { window: [0.5, 99.5], channels: 1 });
    const padded = padToMultiple(slice, ctx.divisor);
    const x = { data: padded.data, n: 1, height: padded.height, width: padded.width, channels: 1 };
    const forwards: number[] = [];
    const f1 = process.cpuUsage();
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await ctx.engine.activations(x, layers);
      forwards.push(performance.now() - t);
    }
    const forwardCpuMs = Math.round(cpuMs(f1) / 3);
    ctx.engine.dispose();
    const r0 = performance.now();
    const manifest = await run({ seed: { inputs: [SLICE] }, ascend: { mode: 'activations', layers } }, path.join(out, 'run'));
    const runMs = performance.now() - r0;
    const bin = path.join(here, '..', 'dist', 'cli', 'bin.js');
    let cliMs: number | string = 'not built (npm run build)';
    if (existsSync(bin)) {
      const t = performance.now();
      const cli = spawnSync(process.execPath, [bin, 'activations', SLICE, '--layers', layers.join(','), '--out', path.join(out, 'cli')], { encoding: 'utf8' });
      cliMs = cli.status === 0 ? Math.round(performance.now() - t) : `exit ${cli.status}: ${cli.stderr.trim().split('\n').pop()}`;
    }
    computes.sort((a, b) => a - b);
    return {
      section: name,
      engine: manifest.engine.engine,
      computeMs: Math.round(computes[1]!),
      computeRunsMs: computes.map(Math.round),
      computeCpuMs,
      forwardMs: Math.round(forwards.sort((a, b) => a - b)[1]!),
      forwardCpuMs,
      firstSliceMs: Math.round(firstMs),
      loadMs: Math.round(loadMs),
      runMs: Math.round(runMs),
      cliMs,
    };
  }
  const chunk = /^smoothgrad-batch(\d+)$/.exec(name);
  if (chunk) {
    const c0 = process.cpuUsage();
    const manifest = await run({ seed: { inputs: [SLICE] }, ascend: { mode: 'attribute', method: 'smoothgrad', samples: 8, batch: Number(chunk[1]) } }, out);
    const r = manifest.results[0] as { ms: number; batch: number };
    return { section: name, engine: manifest.engine.engine, samples: 8, batch: r.batch, methodMs: Math.round(r.ms), cpuMs: cpuMs(c0) };
  }
  if (name === 'smoothgrad' || name === 'integrated-gradients') {
    const c0 = process.cpuUsage();
    const t = performance.now();
    const manifest = await run({ seed: { inputs: [SLICE] }, ascend: { mode: 'attribute', method: name, samples: 50, steps: 64 } }, out);
    const runMs = performance.now() - t;
    const r = manifest.results[0] as { ms: number; batch: number; completeness?: { relativeError: number } };
    return { section: name, engine: manifest.engine.engine, batch: r.batch, methodMs: Math.round(r.ms), runMs: Math.round(runMs), cpuMs: cpuMs(c0), completeness: r.completeness?.relativeError };
  }
  const c0 = process.cpuUsage();
  const t = performance.now();
  const manifest = await run({ seed: { phantoms: 100, size: 256 }, ascend: { mode: 'examples', layers: ['dconv256'], filters: 'random:8', top: 9 } }, out);
  return { section: name, engine: manifest.engine.engine, slices: (manifest as unknown as { slices: number }).slices, layer: 'dconv256', filters: 8, runMs: Math.round(performance.now() - t), cpuMs: cpuMs(c0) };
}

const arg = process.argv[2];
if (arg && ([...SECTIONS, ...CHUNK_SECTIONS] as readonly string[]).includes(arg)) {
  const result = await section(arg);
  const rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`${JSON.stringify({ ...result, peakRssMB: rssMB, load1: Number(os.loadavg()[0]!.toFixed(1)) })}\n`);
  process.exit(0);
}

const results: Record<string, unknown>[] = [];
const loadBefore = os.loadavg()[0]!.toFixed(1);
for (const name of [...SECTIONS, ...(process.argv.includes('--chunks') ? CHUNK_SECTIONS : [])]) {
  process.stderr.write(`bench: ${name}\n`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  results.push(line.startsWith('{') ? JSON.parse(line) : { section: name, error: `exit ${child.status}` });
  process.stderr.write(`${JSON.stringify(results[results.length - 1])}\n`);
}
const headline = (r: Record<string, unknown>) => (r.computeMs ?? r.methodMs ?? r.runMs) as number;
const md = [
  `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`npx tsx bench/real-slices.ts\``,
  '',
  `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), 1-minute load ${loadBefore} before the run, ${os.loadavg()[0]!.toFixed(1)} after (each section's own at its end is in its row).`,
  '',
  '| section | time | CPU time | peak RSS | detail |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.section} | ${r.error ?? `${(headline(r) / 1000).toFixed(1)} s`} | ${r.computeCpuMs ?? r.cpuMs ?? '-'} ms | ${r.peakRssMB ?? '-'} MB | ${JSON.stringify(r)} |`),
  '',
];
if (!process.argv.includes('--no-write')) appendFileSync(path.join(here, '..', 'BENCHMARKS.md'), `\n${md.join('\n')}`);
process.stdout.write(`${md.join('\n')}\n`);
