/**
 * Benchmarks of the real-slice modes on the default engine (ONNX Runtime): `activations` of the
 * seed's 7 layers on a 256x256 slice, `attribute` by SmoothGrad (50 samples) and integrated
 * gradients (64 steps) on a 256x256 slice, `examples` over 100 generated 256x256 slices for one
 * layer. Each section runs in its own process so its peak RSS (getrusage maxrss) is its own.
 *
 *   npx tsx bench/real-slices.ts            all sections, appends an entry to BENCHMARKS.md
 *   npx tsx bench/real-slices.ts --no-write
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SECTIONS = ['activations', 'smoothgrad', 'integrated-gradients', 'examples'] as const;
const here = path.dirname(fileURLToPath(import.meta.url));

async function section(name: string): Promise<Record<string, unknown>> {
  const { selectBackend } = await import('../src/engine/backend.js');
  await selectBackend('auto');
  const out = mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const t0 = performance.now();
  if (name === 'activations') {
    const { SEED_LAYERS } = await import('../src/model/unet.js');
    const { openModel } = await import('../src/activations/run-context.js');
    const { sliceActivations, runActivations } = await import('../src/activations/activations.js');
    const { phantomImage, toSlice } = await import('../src/activations/slices.js');
    const opened = await openModel({ source: 'builtin', backend: 'auto', device: 'cpu' });
    const slice = toSlice(phantomImage('phantom:random:1:256'), 'p', 'p', { window: [0.5, 99.5], channels: 1 });
    const c0 = performance.now();
    await sliceActivations(opened.engine, opened.model, slice, SEED_LAYERS);
    const cold = performance.now() - c0;
    const w0 = performance.now();
    await sliceActivations(opened.engine, opened.model, slice, SEED_LAYERS);
    const warm = performance.now() - w0;
    opened.engine.dispose();
    const r0 = performance.now();
    await runActivations({ inputs: ['phantom:random:1:256'], layers: [...SEED_LAYERS], out });
    return { section: name, engine: opened.info.engine, forwardColdMs: Math.round(cold), forwardWarmMs: Math.round(warm), commandMs: Math.round(performance.now() - r0) };
  }
  if (name === 'smoothgrad' || name === 'integrated-gradients') {
    const { runAttribute } = await import('../src/attribution/attribute.js');
    const r = await runAttribute({ inputs: ['phantom:random:1:256'], method: name, samples: 50, steps: 64, out });
    return { section: name, engine: r.model.engine, batch: r.config.batch, methodMs: Math.round(r.results[0]!.ms!), commandMs: Math.round(r.wallTimeMs), completeness: r.results[0]!.completeness?.relativeError };
  }
  const { runExamples } = await import('../src/examples/examples.js');
  const r = await runExamples({ phantoms: 100, size: 256, layers: ['dconv256'], filters: 'random:8', top: 9, out });
  return { section: name, engine: r.model.engine, slices: r.slices, layer: 'dconv256', filters: 8, commandMs: Math.round(r.wallTimeMs), totalMs: Math.round(performance.now() - t0) };
}

const arg = process.argv[2];
if (arg && (SECTIONS as readonly string[]).includes(arg)) {
  const result = await section(arg);
  const rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`${JSON.stringify({ ...result, peakRssMB: rssMB })}\n`);
  process.exit(0);
}

const results: Record<string, unknown>[] = [];
for (const name of SECTIONS) {
  process.stderr.write(`bench: ${name}\n`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  results.push(line.startsWith('{') ? JSON.parse(line) : { section: name, error: `exit ${child.status}` });
  process.stderr.write(`${JSON.stringify(results[results.length - 1])}\n`);
}
const load = os.loadavg().map((v) => v.toFixed(1)).join(', ');
const md = [
  `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`npx tsx bench/real-slices.ts\``,
  '',
  `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), load average after the run ${load}: shared with other jobs.`,
  '',
  '| section | time | peak RSS | detail |',
  '|---|---|---|---|',
  ...results.map((r) => `| ${r.section} | ${r.error ?? `${(((r.methodMs ?? r.forwardWarmMs ?? r.commandMs) as number) / 1000).toFixed(1)} s`} | ${r.peakRssMB ?? '-'} MB | ${JSON.stringify(r)} |`),
  '',
];
if (!process.argv.includes('--no-write')) appendFileSync(path.join(here, '..', 'BENCHMARKS.md'), `\n${md.join('\n')}`);
process.stdout.write(`${md.join('\n')}\n`);
