/**
 * `npm run bench`: the numbers every speed claim in this project rests on, measured in one process
 * so ratios compare like with like on a noisy machine. Appends a dated entry to BENCHMARKS.md with
 * the command and the machine, and prints one JSON line last.
 *
 *   npm run bench [-- --quick] [-- --skip-job] [-- --skip-train] [-- --skip-dream] [-- --no-write]
 *
 * Measures (wasm backend unless said): ms per seed-recipe ascent step to each of the seed's layers,
 * fast vs default gradients, batch 1 and 8; the ONNX Runtime engine beside it when it compiles; the
 * seed's whole job (7 layers x 16 filters x 20 steps, 128x128) with 1 and N workers; a training step;
 * a 1024x1024 dream (4 octaves x 10 steps on uconv128); peak RSS.
 */
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { selectBackend } from '../src/engine/backend.js';
import { unregisterFastGradients, registerFastGradients } from '../src/engine/gradients/index.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import type { Batch, Engine } from '../src/engine/engine.js';
import { buildUNet, SEED_LAYERS } from '../src/model/unet.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import { createRng } from '../src/ascent/random.js';
import { tf } from '../src/engine/tf.js';
import { makeBatch } from '../src/train/dataset.js';
import { dream } from '../src/ascent/dream.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const cores = os.availableParallelism();
const results: Record<string, unknown> = {};
const lines: string[] = [];
const log = (s: string) => {
  lines.push(s);
  process.stderr.write(`${s}\n`);
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function noise(n: number, size: number): Batch {
  const rng = createRng(1);
  const data = new Float32Array(n * size * size);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2;
  return { data, n, height: size, width: size, channels: 1 };
}

async function msPerStep(engine: Engine, layer: string, n: number, steps: number): Promise<number> {
  const x = noise(n, 128);
  const objective = { kind: 'filter' as const, layer, filters: Array.from({ length: n }, (_, i) => i) };
  await engine.gradient(x, objective, 'rms'); // warm-up: builds the truncated model, compiles kernels
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await engine.gradient(x, objective, 'rms');
    times.push(performance.now() - t);
  }
  return median(times);
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

await selectBackend('wasm');
const model = buildUNet();

// 1. ms per step per layer, fast vs default gradients, batch 1 and 8.
const perLayer: Record<string, Record<string, number>> = {};
const fast = new TfjsEngine(model, { backend: 'wasm', provider: 'bench' });
for (const layer of SEED_LAYERS) {
  perLayer[layer] = { fastBatch1: await msPerStep(fast, layer, 1, quick ? 2 : 5), fastBatch8: await msPerStep(fast, layer, 8, quick ? 1 : 3) };
}
fast.dispose();
unregisterFastGradients();
const slow = new TfjsEngine(model, { backend: 'wasm', provider: 'bench' });
for (const layer of quick ? ['dconv64', 'uconv64'] : SEED_LAYERS) perLayer[layer]!.defaultBatch1 = await msPerStep(slow, layer, 1, quick ? 1 : 2);
slow.dispose();
registerFastGradients();
results.msPerStep = perLayer;
log('| layer | fast, batch 1 | fast, batch 8 (per image) | default, batch 1 | speed-up |');
log('| --- | --- | --- | --- | --- |');
for (const [layer, r] of Object.entries(perLayer)) {
  log(`| ${layer} | ${r.fastBatch1!.toFixed(0)} | ${r.fastBatch8!.toFixed(0)} (${(r.fastBatch8! / 8).toFixed(0)}) | ${r.defaultBatch1?.toFixed(0) ?? '-'} | ${r.defaultBatch1 ? `${(r.defaultBatch1 / r.fastBatch1!).toFixed(1)}x` : '-'} |`);
}

// 2. ONNX Runtime engine beside it, when present.
try {
  const onnx = await import('../src/engine/onnx/index.js');
  const engine: Engine = await onnx.createOnnxEngine(model, { threads: cores });
  const onnxPerLayer: Record<string, Record<string, number>> = {};
  for (const layer of SEED_LAYERS) onnxPerLayer[layer] = { batch1: await msPerStep(engine, layer, 1, quick ? 2 : 5), batch8: await msPerStep(engine, layer, 8, quick ? 1 : 3) };
  engine.dispose();
  results.onnxMsPerStep = onnxPerLayer;
  log('');
  log(`| layer | onnx batch 1 (${cores} threads) | onnx batch 8 | tfjs-wasm fast batch 1 |`);
  log('| --- | --- | --- | --- |');
  for (const [layer, r] of Object.entries(onnxPerLayer)) log(`| ${layer} | ${r.batch1!.toFixed(0)} | ${r.batch8!.toFixed(0)} | ${perLayer[layer]!.fastBatch1!.toFixed(0)} |`);
} catch (err) {
  log(`onnx engine not measured: ${(err as Error).message.split('\n')[0]}`);
}

// 3. The seed's job: 7 layers x 16 filters x 20 steps at 128x128, 1 and N workers.
if (!args.has('--skip-job')) {
  const job: Record<string, number> = {};
  for (const workers of [...new Set([1, cores])]) {
    const out = mkdtempSync(path.join(os.tmpdir(), 'unet-dream-bench-'));
    const t = performance.now();
    await runPipeline(
      validatePipeline({
        model: { backend: 'wasm' },
        seed: { size: 128, seed: 0 },
        ascend: { layers: [...SEED_LAYERS], filters: quick ? '0-1' : '0-15', steps: quick ? 2 : 20, workers, batch: 4 },
        write: { out },
      }),
      { command: 'bench' },
    );
    job[`workers${workers}`] = Math.round((performance.now() - t) / 1000);
  }
  results.seedJobSeconds = job;
  log('');
  log(`seed's job (${quick ? 'QUICK: 2 filters x 2 steps' : '7 layers x 16 filters x 20 steps'}, 128x128, batch 4, wasm): ${Object.entries(job).map(([k, v]) => `${v} s with ${k.replace('workers', '')} worker(s)`).join(', ')}`);
}

// 4. A training step: batch 8 of 64x64 phantoms, Adam, L1.
if (!args.has('--skip-train')) {
  const trainModel = buildUNet({ size: null, seed: 1 });
  trainModel.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanAbsoluteError' });
  const times: number[] = [];
  for (let i = 0; i < (quick ? 2 : 4); i++) {
    const b = makeBatch(64, 1, 'train', i * 8, 8, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    const x = tf.tensor4d(b.inputs, [8, 64, 64, 1]);
    const y = tf.tensor4d(b.targets, [8, 64, 64, 1]);
    const t = performance.now();
    await trainModel.trainOnBatch(x, y);
    times.push(performance.now() - t);
    x.dispose();
    y.dispose();
  }
  const ms = median(times.slice(1));
  results.trainStepMs = Math.round(ms);
  results.trainImagesPerSecond = Number(((8 * 1000) / ms).toFixed(2));
  log('');
  log(`training step (batch 8, 64x64, Adam, wasm): ${ms.toFixed(0)} ms = ${(8000 / ms).toFixed(2)} images/s`);
}

// 5. A 1024x1024 dream, 4 octaves x 10 steps on uconv128.
if (!args.has('--skip-dream')) {
  const engine = new TfjsEngine(model, { backend: 'wasm', provider: 'bench' });
  const size = quick ? 256 : 1024;
  const rng = createRng(2);
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.2 * Math.sin(i / 37) + 0.1 * rng.next();
  const t = performance.now();
  await dream(engine, { data, width: size, height: size, channels: 1 }, {
    objective: { kind: 'layers', terms: [{ layer: 'uconv128', weight: 1, reduce: 'mean' }] },
    octaves: 4, octaveScale: 1.4, steps: quick ? 2 : 10, step: 0.01, normalize: 'rms', jitter: 32, tile: 512, halo: 32, divisor: 8, seed: 1,
  });
  results.dreamSeconds = Math.round((performance.now() - t) / 1000);
  engine.dispose();
  log('');
  log(`dream ${size}x${size}, 4 octaves x ${quick ? 2 : 10} steps, uconv128, tile 512 (wasm, 1 thread): ${results.dreamSeconds} s`);
}

results.peakRssMb = peakRssMb();
log('');
log(`peak RSS of the bench process (all of the above, workers included): ${results.peakRssMb} MB`);

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const header = `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`${command}\`\n\nMachine: ${cores} cores, ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}. Times are medians in ms unless said.\n\n`;
if (!args.has('--no-write')) {
  const file = path.resolve('BENCHMARKS.md');
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nEntries appended by `npm run bench` (bench/run.ts); newest last.\n\n');
  appendFileSync(file, `${header}${lines.join('\n')}\n\n`);
}
process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), command, cores, cpu, quick, ...results })}\n`);
