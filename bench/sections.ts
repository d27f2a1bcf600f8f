/**
 * One benchmark section per process (so each reports its own peak RSS): `npx tsx bench/sections.ts
 * SECTION [--quick]`. Prints one JSON object on stdout. Run through `npm run bench` (bench/run.ts).
 */
import { mkdtempSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { selectBackend } from '../src/engine/backend.js';
import { registerFastGradients, unregisterFastGradients } from '../src/engine/gradients/index.js';
import { TfjsEngine } from '../src/engine/tfjs-engine.js';
import type { Batch, Engine } from '../src/engine/engine.js';
import { buildUNet, SEED_LAYERS } from '../src/model/unet.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import { createRng } from '../src/random.js';
import { tf } from '../src/tf.js';
import { makeCropBatch } from '../src/train/dataset.js';
import { OnnxTrainer } from '../src/train/onnx-trainer.js';
import { dream } from '../src/ascent/dream.js';
import { createImage } from '../src/io/image.js';
import { writeImage } from '../src/io/write.js';
import { randomPhantom } from '../src/mri/index.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { Queue } from 'bullmq';
import { parseRedisUrl, bullConnection } from '../src/queue/redis.js';
import { benchRecipes, DEFAULT_RECIPE_BENCH } from './recipes.js';

const [section = '', ...flags] = process.argv.slice(2);
const quick = flags.includes('--quick');
const cores = os.availableParallelism();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function noise(n: number, size: number): Batch {
  const rng = createRng(1);
  const data = new Float32Array(n * size * size);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2;
  return { data, n, height: size, width: size, channels: 1 };
}

/** Median ms of a seed-recipe step (values + rms-normalised gradient) to one layer, after a warm-up. */
async function msPerStep(engine: Engine, layer: string, n: number, steps: number): Promise<number> {
  const x = noise(n, 128);
  const objective = { kind: 'filter' as const, layer, filters: Array.from({ length: n }, (_, i) => i) };
  await engine.gradient(x, objective, 'rms');
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await engine.gradient(x, objective, 'rms');
    times.push(performance.now() - t);
  }
  return Math.round(median(times));
}

async function onnxEngine(threads = cores): Promise<Engine> {
  const { createOnnxEngine } = await import('../src/engine/onnx/index.js');
  return createOnnxEngine(buildUNet(), { threads });
}

async function seedJob(backend: string, workers: number): Promise<number> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'unet-dream-bench-'));
  const t = performance.now();
  await runPipeline(
    validatePipeline({
      model: { backend },
      seed: { size: 128, seed: 0 },
      ascend: { layers: [...SEED_LAYERS], filters: quick ? '0-1' : '0-15', steps: quick ? 2 : 20, workers },
      write: { out },
    }),
    { command: 'bench' },
  );
  return Math.round((performance.now() - t) / 100) / 10;
}

const flag = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1];

const sections: Record<string, () => Promise<Record<string, unknown>>> = {
  /** lucid vs seed on the shipped model (bench/recipes.ts); --filters=N --seeds=0,1,2 --layers=a,b --log=FILE. */
  async recipes() {
    return benchRecipes({
      ...DEFAULT_RECIPE_BENCH,
      filters: Number(flag('filters') ?? (quick ? 2 : DEFAULT_RECIPE_BENCH.filters)),
      seeds: (flag('seeds') ?? (quick ? '0,1' : '0,1,2')).split(',').map(Number),
      layers: flag('layers')?.split(',') ?? (quick ? ['conv512'] : DEFAULT_RECIPE_BENCH.layers),
      size: quick ? 64 : DEFAULT_RECIPE_BENCH.size,
      log: flag('log'),
    });
  },
  /** tfjs on wasm: ms per step per seed layer, fast vs default gradients, batch 1 and 8. */
  async 'tfjs-steps'() {
    await selectBackend('wasm');
    const model = buildUNet();
    const out: Record<string, Record<string, number>> = {};
    const fast = new TfjsEngine(model, { backend: 'wasm', provider: 'bench' });
    for (const layer of SEED_LAYERS) out[layer] = { fastBatch1: await msPerStep(fast, layer, 1, quick ? 2 : 5), fastBatch8: await msPerStep(fast, layer, 8, quick ? 1 : 3) };
    fast.dispose();
    unregisterFastGradients();
    const slow = new TfjsEngine(model, { backend: 'wasm', provider: 'bench' });
    for (const layer of quick ? ['dconv64', 'uconv64'] : SEED_LAYERS) out[layer]!.defaultBatch1 = await msPerStep(slow, layer, 1, quick ? 1 : 2);
    slow.dispose();
    registerFastGradients();
    return { msPerStep: out };
  },
  /** ONNX Runtime: ms per step per seed layer, batch 1 and 8, all cores. */
  async 'onnx-steps'() {
    await selectBackend('wasm');
    const engine = await onnxEngine();
    const out: Record<string, Record<string, number>> = {};
    for (const layer of SEED_LAYERS) out[layer] = { batch1: await msPerStep(engine, layer, 1, quick ? 2 : 10), batch8: await msPerStep(engine, layer, 8, quick ? 1 : 3) };
    const stats = (engine.stats?.() ?? {}) as { compileMs?: number; compiles?: number };
    engine.dispose();
    return { msPerStep: out, compileMs: Math.round(stats.compileMs ?? 0), compiles: stats.compiles };
  },
  /** The seed's job (7 layers x 16 filters x 20 steps, 128x128) on ONNX Runtime, 1 worker using every core. */
  async 'job-onnx'() {
    return { seconds: { workers1: await seedJob('onnx', 1) } };
  },
  /** The same with N workers sharing the cores. */
  async 'job-onnx-n'() {
    return { seconds: { [`workers${cores}`]: await seedJob('onnx', cores) } };
  },
  /** The same job on tfjs-wasm with N workers (one thread each). */
  async 'job-wasm'() {
    return { seconds: { [`workers${cores}`]: await seedJob('wasm', cores) } };
  },
  /** The same job on tfjs-wasm with 1 worker. */
  async 'job-wasm-1'() {
    return { seconds: { workers1: await seedJob('wasm', 1) } };
  },
  /**
   * A training step, batch 8 of 64x64 crops of 128x128 simulations, Adam, L1: tfjs-wasm's
   * trainOnBatch (fast gradients) and the ONNX trainer with 1 thread and with every core, one after
   * another in this process so the ratios compare like with like.
   */
  async train() {
    await selectBackend('wasm');
    const us = { acceleration: 4, center: 0.08, pattern: 'random' as const, axis: 'x' as const };
    const steps = quick ? 2 : 6;
    const batches = Array.from({ length: steps }, (_, i) => makeCropBatch(128, 64, 1, i * 8, 8, us));
    const tfjsModel = buildUNet({ size: null, seed: 1 });
    tfjsModel.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanAbsoluteError' });
    const wasm: number[] = [];
    for (const b of batches) {
      const x = tf.tensor4d(b.inputs, [8, 64, 64, 1]);
      const y = tf.tensor4d(b.targets, [8, 64, 64, 1]);
      const t = performance.now();
      await tfjsModel.trainOnBatch(x, y);
      wasm.push(performance.now() - t);
      x.dispose();
      y.dispose();
    }
    const onnxMs = async (threads: number) => {
      const trainer = await OnnxTrainer.create(buildUNet({ size: null, seed: 1 }), { loss: 'l1', lr: 1e-3, threads });
      const times: number[] = [];
      for (const b of batches) {
        const t = performance.now();
        await trainer.step({ data: b.inputs, n: 8, height: 64, width: 64 }, b.targets);
        times.push(performance.now() - t);
      }
      await trainer.dispose();
      return median(times.slice(1));
    };
    const ms = { wasm: median(wasm.slice(1)), onnx1: await onnxMs(1), [`onnx${cores}`]: await onnxMs(cores) };
    const imagesPerSecond = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Number(((8 * 1000) / v).toFixed(2))]));
    return { stepMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)])), imagesPerSecond };
  },
  /** DeepDream on a SIZExSIZE image, 4 octaves x 10 steps on uconv128, tile 512, default engine. */
  async dream() {
    await selectBackend('wasm');
    const size = Number(flags.find((f) => f.startsWith('--size='))?.slice(7) ?? (quick ? 256 : 1024));
    const steps = Number(flags.find((f) => f.startsWith('--steps='))?.slice(8) ?? (quick ? 2 : 10));
    const octaves = Number(flags.find((f) => f.startsWith('--octaves='))?.slice(10) ?? 4);
    const engine = await onnxEngine();
    const rng = createRng(2);
    const data = new Float32Array(size * size);
    for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.2 * Math.sin(i / 37) + 0.1 * rng.next();
    const t = performance.now();
    await dream(engine, { data, width: size, height: size, channels: 1 }, {
      objective: { kind: 'layers', terms: [{ layer: 'uconv128', weight: 1, reduce: 'mean' }] },
      octaves, octaveScale: 1.4, steps, step: 0.01, normalize: 'rms', jitter: 32, tile: 512, halo: 32, divisor: 8, seed: 1,
    });
    engine.dispose();
    return { size, octaves, steps, seconds: Math.round((performance.now() - t) / 100) / 10 };
  },
  /** `batch` on generated 256x256 MR-like slices (NIfTI), 3 octaves x 10 steps: slices per minute, 1 and N at once. */
  async batch() {
    const count = Number(flags.find((f) => f.startsWith('--count='))?.slice(8) ?? (quick ? 4 : 20));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'unet-dream-bench-slices-'));
    for (let i = 0; i < count; i++) {
      const phantom = randomPhantom(256, createRng(500 + i)).map((v) => Math.round(v * 1000));
      await writeImage(createImage(256, 256, 1, phantom, { format: 'nifti', dtype: 'int16', bitDepth: 16 }), path.join(dir, `slice-${i}.nii.gz`));
    }
    const rates: Record<string, number> = {};
    const only = flags.find((f) => f.startsWith('--concurrency='))?.slice(14);
    for (const concurrency of only ? [Number(only)] : [...new Set([1, cores])]) {
      const out = path.join(dir, `out-${concurrency}`);
      mkdirSync(out);
      const t = performance.now();
      await runPipeline(
        validatePipeline({
          seed: { inputs: [dir], include: '*.nii.gz' },
          ascend: { mode: 'dream', layers: ['uconv128:1', 'conv512:0.5'], octaves: 3, steps: quick ? 2 : 10, jitter: 16 },
          write: { out },
        }),
        { command: 'bench', workers: concurrency },
      );
      rates[`concurrency${concurrency}`] = Number(((count * 60000) / (performance.now() - t)).toFixed(1));
    }
    return { slices: count, slicesPerMinute: rates };
  },
  /**
   * The job queue against a local `batch` of the same slices, all through the CLI in child processes:
   * end-to-end wall time (local: the batch process; queue: `queue submit` then N `worker --drain`
   * processes until all exit) as slices per minute, for 1 and 2 workers; and the queue's overhead
   * per job on tiny jobs: (span from the first job's start to the last job's end, from Redis'
   * timestamps) minus the local run's manifest wallTimeMs, over the jobs. Both spans include one
   * model load and engine start. Needs a redis-server binary; starts its own on a free port.
   */
  async queue() {
    if (spawnSync('redis-server', ['--version']).status !== 0) return { skipped: 'no redis-server binary' };
    const count = Number(flags.find((f) => f.startsWith('--count='))?.slice(8) ?? (quick ? 6 : 40));
    const root = mkdtempSync(path.join(os.tmpdir(), 'unet-dream-bench-queue-'));
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', root], { stdio: 'ignore' });
    const url = `redis://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 500));
    const bin = path.resolve('src/cli/bin.ts');
    const cli = (args: string[]) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: '1' } });
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`unet-dream ${args[0]} exited ${code}`))));
      });
    const makeSlices = async (dir: string, size: number) => {
      mkdirSync(dir);
      for (let i = 0; i < count; i++) {
        const phantom = randomPhantom(size, createRng(700 + i)).map((v) => Math.round(v * 1000));
        await writeImage(createImage(size, size, 1, phantom, { format: 'nifti', dtype: 'int16', bitDepth: 16 }), path.join(dir, `slice-${i}.nii.gz`));
      }
    };
    const pipeline = (name: string, body: string) => {
      const file = path.join(root, `${name}.yaml`);
      writeFileSync(file, body);
      return file;
    };
    const real = pipeline('real', `seed: { inputs: [unused] }\nascend: { mode: dream, layers: ["uconv128:1", "conv512:0.5"], octaves: 3, steps: ${quick ? 2 : 10}, jitter: 16 }\n`);
    const tiny = pipeline('tiny', 'seed: { inputs: [unused] }\nascend: { mode: dream, layers: [uconv128], octaves: 1, steps: 1, jitter: 2 }\n');
    const slices = path.join(root, 'slices');
    const tinySlices = path.join(root, 'tiny-slices');
    await makeSlices(slices, 64);
    await makeSlices(tinySlices, 32);
    const queue = new Queue('unet-dream', { connection: bullConnection(parseRedisUrl(url)) });
    let run = 0;
    const local = async (dir: string, p: string) => {
      const out = path.join(root, `local-${run++}`);
      const t = performance.now();
      await cli(['batch', dir, '--pipeline', p, '--out', out, '--concurrency', '1']);
      return { seconds: (performance.now() - t) / 1000, manifestMs: JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).wallTimeMs as number };
    };
    const queued = async (dir: string, p: string, workers: number) => {
      await queue.obliterate({ force: true });
      const out = path.join(root, `queue-${run++}`);
      const t = performance.now();
      await cli(['queue', 'submit', dir, '--pipeline', p, '--out', out, '--redis', url]);
      const submitted = performance.now();
      const workersStarted = Date.now();
      // 2 workers on 2 cores: one ONNX Runtime thread each; 1 worker: the engine's default, as batch.
      const threads = workers > 1 ? ['--threads', String(Math.max(1, Math.floor(cores / workers)))] : [];
      await Promise.all(Array.from({ length: workers }, (_, i) => cli(['worker', '--redis', url, '--drain', '--name', `bench-${i}`, ...threads])));
      const seconds = (performance.now() - t) / 1000;
      const jobs = await queue.getCompleted(0, -1);
      if (jobs.length !== count) throw new Error(`${jobs.length} of ${count} jobs completed`);
      const spanMs = Math.max(...jobs.map((j) => j.finishedOn!)) - Math.min(...jobs.map((j) => j.processedOn!));
      // Fixed costs, paid once per run whatever its size: the submit process, and a worker's start to its first job.
      const submitSeconds = (submitted - t) / 1000;
      const workerStartSeconds = (Math.min(...jobs.map((j) => j.processedOn!)) - workersStarted) / 1000;
      return { seconds, spanMs, submitSeconds, workerStartSeconds };
    };
    try {
      const tinyLocal = await local(tinySlices, tiny);
      const tinyQueue = await queued(tinySlices, tiny, 1);
      const l = await local(slices, real);
      const q1 = await queued(slices, real, 1);
      const q2 = await queued(slices, real, 2);
      const perMin = (s: number) => Number(((count * 60) / s).toFixed(1));
      return {
        slices: count,
        overheadMsPerJob: Math.round((tinyQueue.spanMs - tinyLocal.manifestMs) / count),
        tiny: { localManifestMs: tinyLocal.manifestMs, queueSpanMs: tinyQueue.spanMs },
        slicesPerMinute: { local: perMin(l.seconds), queue1: perMin(q1.seconds), queue2: perMin(q2.seconds) },
        processingSlicesPerMinute: { local: perMin(l.manifestMs / 1000), queue1: perMin(q1.spanMs / 1000), queue2: perMin(q2.spanMs / 1000) },
        seconds: { local: Number(l.seconds.toFixed(1)), queue1: Number(q1.seconds.toFixed(1)), queue2: Number(q2.seconds.toFixed(1)) },
        fixedSeconds: {
          localStart: Number((l.seconds - l.manifestMs / 1000).toFixed(1)),
          submit: Number(q1.submitSeconds.toFixed(1)),
          workerStart: Number(q1.workerStartSeconds.toFixed(1)),
        },
      };
    } finally {
      await queue.close();
      redis.kill('SIGTERM');
    }
  },
};

/** Dissection and ablation of the shipped model on held-out phantoms (issue 18). */
Object.assign(sections, {
  /** `dissect` over 200 held-out phantoms, every conv layer, without sheets: seconds. */
  async dissect() {
    await selectBackend('wasm');
    const { loadModel } = await import('../src/model/load.js');
    const { heldOutPhantoms } = await import('../src/dissect/data.js');
    const { dissect } = await import('../src/dissect/dissect.js');
    const n = quick ? 16 : 200;
    const t = performance.now();
    const cpu = process.cpuUsage();
    const model = (await loadModel('builtin')).model;
    const pairs = heldOutPhantoms(n, 128, 12345, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    const result = await dissect(model, pairs);
    const c = process.cpuUsage(cpu);
    return { images: n, filters: result.layers.reduce((s, l) => s + l.filters, 0), seconds: Math.round((performance.now() - t) / 100) / 10, cpuSeconds: Math.round((c.user + c.system) / 1e5) / 10 };
  },
  /** `ablate --layers uconv128 --n 50`: 128 filters x 50 phantoms, seconds. */
  async ablate() {
    await selectBackend('wasm');
    const { loadModel } = await import('../src/model/load.js');
    const { heldOutPhantoms } = await import('../src/dissect/data.js');
    const { ablateLayer } = await import('../src/ablate/ablate.js');
    const n = quick ? 4 : 50;
    const t = performance.now();
    const cpu = process.cpuUsage();
    const loaded = await loadModel('builtin');
    const pairs = heldOutPhantoms(n, 128, 12345, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    const r = await ablateLayer(loaded.model, pairs, 'uconv128', { layers: ['uconv128'], residual: loaded.residual });
    const c = process.cpuUsage(cpu);
    return { layer: 'uconv128', images: n, filters: r.filters, method: r.method, seconds: Math.round((performance.now() - t) / 100) / 10, cpuSeconds: Math.round((c.user + c.system) / 1e5) / 10 };
  },
  /**
   * Forward passes of the shipped model returning every conv layer's output (what dissect runs), 16
   * held-out phantoms, in batches of 1, 2 and 8: CPU and wall milliseconds per image, one process.
   */
  async 'forward-batch'() {
    await selectBackend('wasm');
    const { loadModel } = await import('../src/model/load.js');
    const { withInputSize } = await import('../src/model/resize.js');
    const { heldOutPhantoms } = await import('../src/dissect/data.js');
    const { convLayers } = await import('../src/dissect/dissect.js');
    const { ForwardRunner } = await import('../src/dissect/forward-graph.js');
    const model = await withInputSize((await loadModel('builtin')).model, 128, 128);
    const n = 16;
    const pairs = heldOutPhantoms(n, 128, 12345, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    const runner = await ForwardRunner.create(model, { outputs: convLayers(model) });
    const perImage: Record<string, { cpuMs: number; wallMs: number }> = {};
    try {
      for (const b of [1, 2, 8]) {
        await runner.run({ input: { data: pairs.inputs.subarray(0, b * 16384), dims: [b, 128, 128, 1] } });
        const t = performance.now();
        const cpu = process.cpuUsage();
        for (let f = 0; f < n; f += b) await runner.run({ input: { data: pairs.inputs.subarray(f * 16384, (f + b) * 16384), dims: [b, 128, 128, 1] } });
        const c = process.cpuUsage(cpu);
        perImage[`b${b}`] = { cpuMs: Math.round((c.user + c.system) / 1000 / n), wallMs: Math.round((performance.now() - t) / n) };
      }
    } finally {
      await runner.dispose();
    }
    return { images: n, perImage };
  },
  /**
   * The same ablations of uconv128 (filters 0-7 on 10 phantoms) three ways in one process: the masked
   * plan in batches of 10 (the previous default), the masked plan one image per run, the delta plan one
   * image per run. CPU seconds each, and the largest output difference between the plans.
   */
  async 'ablate-plans'() {
    await selectBackend('wasm');
    const { loadModel } = await import('../src/model/load.js');
    const { heldOutPhantoms } = await import('../src/dissect/data.js');
    const { LayerAblator } = await import('../src/ablate/ablate.js');
    const n = 10;
    const filters = quick ? 2 : 8;
    const loaded = await loadModel('builtin');
    const pairs = heldOutPhantoms(n, 128, 12345, { acceleration: 4, center: 0.08, pattern: 'random', axis: 'x' });
    const outputs: Record<string, Float32Array[]> = {};
    const cpuSeconds: Record<string, number> = {};
    for (const [name, method, batch] of [['masked-b10', 'masked', 10], ['masked-b1', 'masked', 1], ['delta-b1', 'auto', 1]] as const) {
      const cpu = process.cpuUsage();
      const ablator = await LayerAblator.create(loaded.model, pairs, 'uconv128', { batch, method });
      outputs[name] = [];
      for (let f = 0; f < filters; f++) for (let first = 0; first < n; first += batch) outputs[name]!.push(Float32Array.from(await ablator.outputs(f, first, batch)));
      await ablator.dispose();
      const c = process.cpuUsage(cpu);
      cpuSeconds[name] = Math.round((c.user + c.system) / 1e5) / 10;
    }
    const flat = (xs: Float32Array[]) => Float32Array.from(xs.flatMap((x) => [...x]));
    const a = flat(outputs['masked-b10']!);
    const b = flat(outputs['delta-b1']!);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    return { layer: 'uconv128', images: n, filters, cpuSeconds, maxDiff };
  },
});

const run = sections[section];
if (!run) {
  process.stderr.write(`unknown section "${section}"; sections: ${Object.keys(sections).join(', ')}\n`);
  process.exit(2);
}
const result = await run();
process.stdout.write(`${JSON.stringify({ section, ...result, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
