/**
 * Default vs fast wasm gradients, in one process: median wall ms per seed-style ascent step
 * (loss = mean(layer[..., f]); g /= sqrt(mean(g^2)) + 1e-5; x += g) to one layer of the built-in U-Net.
 *
 *   npx tsx bench/gradients.ts [--layer uconv64] [--size 128] [--batch 1] [--filter 3]
 *                              [--default-steps 3] [--fast-steps 10] [--json]
 *
 * tfjs' default gradients run first, then registerFastGradients() swaps in the fast ones (registration
 * cannot be undone mid-graph, so the order is fixed). Also prints the forward pass alone, and the largest
 * difference between the two gradients at the same input as a sanity check.
 */
import { tf } from '../src/tf.js';
import { registerFastGradients } from '../src/engine/gradients/index.js';
import { buildUNet } from '../src/model/unet.js';

interface Options {
  layer: string;
  size: number;
  batch: number;
  filter: number;
  defaultSteps: number;
  fastSteps: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { layer: 'uconv64', size: 128, batch: 1, filter: 3, defaultSteps: 3, fastSteps: 10, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--json') {
      opts.json = true;
      continue;
    }
    const value = argv[i + 1];
    const num = Number(value);
    const need = (ok: boolean) => {
      if (!ok || value === undefined) throw new Error(`bad value for ${arg}: ${value}`);
      i++;
    };
    switch (arg) {
      case '--layer':
        need(value !== undefined);
        opts.layer = value as string;
        break;
      case '--size':
        need(Number.isInteger(num) && num > 0 && num % 8 === 0);
        opts.size = num;
        break;
      case '--batch':
        need(Number.isInteger(num) && num > 0);
        opts.batch = num;
        break;
      case '--filter':
        need(Number.isInteger(num) && num >= 0);
        opts.filter = num;
        break;
      case '--default-steps':
        need(Number.isInteger(num) && num > 0);
        opts.defaultSteps = num;
        break;
      case '--fast-steps':
        need(Number.isInteger(num) && num > 0);
        opts.fastSteps = num;
        break;
      default:
        throw new Error(`unknown argument ${arg} (see the header of bench/gradients.ts)`);
    }
  }
  return opts;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  await tf.ready();

  const model = buildUNet({ size: opts.size });
  const layer = model.getLayer(opts.layer);
  const sub = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
  const channels = (layer.output as tf.SymbolicTensor).shape.at(-1) as number;
  const filter = opts.filter % channels;
  const shape = [opts.batch, opts.size, opts.size, 1];

  const objective = (x: tf.Tensor) => {
    const out = sub.apply(x) as tf.Tensor4D;
    const [n, h, w] = out.shape;
    return tf.mean(tf.slice(out, [0, 0, 0, filter], [n, h, w, 1]));
  };
  const gradient = tf.grad(objective);
  const step = (x: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      const g = gradient(x);
      const scaled = tf.div(g, tf.add(tf.sqrt(tf.mean(tf.square(g))), 1e-5));
      return tf.add(x, scaled);
    });
  const timeSteps = (count: number): number[] => {
    let x = tf.randomUniform(shape, 0, 1, 'float32', 1);
    const times: number[] = [];
    for (let i = 0; i <= count; i++) {
      const t0 = performance.now();
      const next = step(x);
      next.dataSync();
      const ms = performance.now() - t0;
      x.dispose();
      x = next;
      if (i > 0) times.push(ms); // the first step warms up kernels and the heap
    }
    x.dispose();
    return times;
  };
  const probe = tf.randomUniform(shape, 0, 1, 'float32', 2);
  const probeGradient = (): Float32Array => {
    const g = gradient(probe);
    const values = g.dataSync() as Float32Array;
    g.dispose();
    return values;
  };

  // Forward pass alone (no tape: tfjs fuses conv + bias + ReLU here), measured once the heap is warm.
  const timeForward = (count: number): number[] => {
    const times: number[] = [];
    for (let i = 0; i <= count; i++) {
      const t0 = performance.now();
      tf.tidy(() => {
        (sub.predict(probe) as tf.Tensor).dataSync(); // returning the array from tidy would make tidy walk it
      });
      if (i > 0) times.push(performance.now() - t0);
    }
    return times;
  };
  const log = (s: string) => {
    if (!opts.json) console.log(s);
  };
  log(`wasm, ${opts.layer} filter ${filter}, ${opts.batch}x${opts.size}x${opts.size}`);
  const defaultTimes = timeSteps(opts.defaultSteps);
  log(`default gradients: ${median(defaultTimes).toFixed(0)} ms/step (steps: ${defaultTimes.map((t) => t.toFixed(0)).join(', ')})`);
  const reference = probeGradient();

  registerFastGradients();
  const fastTimes = timeSteps(opts.fastSteps);
  log(`fast gradients:    ${median(fastTimes).toFixed(0)} ms/step (steps: ${fastTimes.map((t) => t.toFixed(0)).join(', ')})`);
  const fast = probeGradient();
  const forward = timeForward(7);
  log(`forward alone:     ${median(forward).toFixed(0)} ms (no gradient tape)`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((reference[i] as number) - (fast[i] as number)));
    maxRef = Math.max(maxRef, Math.abs(reference[i] as number));
  }
  const speedup = median(defaultTimes) / median(fastTimes);
  log(`speed-up ${speedup.toFixed(1)}x; max |fast - default| gradient = ${maxDiff.toExponential(2)} (max |default| ${maxRef.toExponential(2)})`);
  if (opts.json) {
    console.log(
      JSON.stringify({
        backend: 'wasm',
        layer: opts.layer,
        filter,
        shape,
        forwardMs: median(forward),
        defaultMsPerStep: median(defaultTimes),
        fastMsPerStep: median(fastTimes),
        defaultSteps: defaultTimes,
        fastSteps: fastTimes,
        speedup,
        maxAbsDiff: maxDiff,
        maxAbsDefault: maxRef,
      }),
    );
  }
  probe.dispose();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
