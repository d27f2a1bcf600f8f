/**
 * ONNX Runtime engine: median wall ms per seed-style ascent step (values + RMS-normalised input
 * gradient of mean(layer[..., f]) from one onnxruntime run, then x += g) to one layer of the built-in
 * U-Net, for each batch size and thread count; plus the compile time (graph build + session load).
 *
 *   npx tsx bench/onnx.ts [--layer uconv64] [--size 128] [--batches 1,8] [--threads 1,2] [--steps 10] [--json]
 */
import os from 'node:os';
import { selectBackend } from '../src/engine/backend.js';
import { OnnxEngine } from '../src/engine/onnx/index.js';
import type { Batch, Objective } from '../src/engine/engine.js';
import { buildUNet } from '../src/model/unet.js';

interface Options {
  layer: string;
  size: number;
  batches: number[];
  threads: number[];
  steps: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { layer: 'uconv64', size: 128, batches: [1, 8], threads: [1, 2], steps: 10, json: false };
  const list = (v: string | undefined) => {
    const nums = (v ?? '').split(',').map(Number);
    if (!nums.length || nums.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`bad list ${v}`);
    return nums;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    if (arg === '--json') opts.json = true;
    else if (arg === '--layer') (opts.layer = value!), i++;
    else if (arg === '--size') (opts.size = list(value)[0]!), i++;
    else if (arg === '--batches') (opts.batches = list(value)), i++;
    else if (arg === '--threads') (opts.threads = list(value)), i++;
    else if (arg === '--steps') (opts.steps = list(value)[0]!), i++;
    else throw new Error(`unknown argument ${arg}`);
  }
  return opts;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function noise(n: number, size: number, seed: number): Batch {
  let state = seed >>> 0;
  const data = new Float32Array(n * size * size);
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 32;
  }
  return { data, n, height: size, width: size, channels: 1 };
}

interface Row {
  threads: number;
  batch: number;
  compileMs: number;
  stepMs: number;
  perImageMs: number;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg()[0]!;
  await selectBackend('auto');
  const model = buildUNet({ size: null });
  const rows: Row[] = [];
  for (const threads of opts.threads) {
    for (const batch of opts.batches) {
      const engine = new OnnxEngine(model, { threads });
      const objective: Objective = { kind: 'filter', layer: opts.layer, filters: Array.from({ length: batch }, (_, i) => (3 + i) % 64) };
      const record = await engine.prepare(objective, 'rms');
      const x = noise(batch, opts.size, 42);
      await engine.gradient(x, objective, 'rms'); // warm-up: first run allocates onnxruntime's arena
      const times: number[] = [];
      for (let s = 0; s < opts.steps; s++) {
        const t0 = performance.now();
        const { gradient } = await engine.gradient(x, objective, 'rms');
        for (let i = 0; i < x.data.length; i++) x.data[i]! += gradient[i]!;
        times.push(performance.now() - t0);
      }
      engine.dispose();
      const stepMs = median(times);
      rows.push({ threads, batch, compileMs: record.compileMs, stepMs, perImageMs: stepMs / batch });
    }
  }
  // Other processes on the machine skew thread scaling most: say how busy it was.
  const load = { before: loadBefore, after: os.loadavg()[0]!, cores: os.availableParallelism() };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ layer: opts.layer, size: opts.size, steps: opts.steps, load, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `onnxruntime-node, ascent step to ${opts.layer} at ${opts.size}x${opts.size} (median of ${opts.steps}); ` +
      `load average ${load.before.toFixed(1)} -> ${load.after.toFixed(1)} on ${load.cores} cores\n`,
  );
  process.stdout.write('threads  batch  compile ms  step ms  ms/image\n');
  for (const r of rows) {
    process.stdout.write(
      `${String(r.threads).padStart(7)}  ${String(r.batch).padStart(5)}  ${r.compileMs.toFixed(0).padStart(10)}  ${r.stepMs.toFixed(1).padStart(7)}  ${r.perImageMs.toFixed(1).padStart(8)}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
