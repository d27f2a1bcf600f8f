/**
 * The fast wasm gradients (src/engine/gradients) against tfjs' DEFAULT gradients on the cpu backend.
 *
 * The fast gradients only act on wasm (they fall back to the replaced ones elsewhere), so once they are
 * registered the cpu backend still computes tfjs' default gradients: every case runs the same function
 * on cpu (reference) and on wasm (fast), from the same plain-array inputs, and compares. The kernels each
 * wasm run dispatched are recorded too, to check the fast paths were really taken.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { fastGradientsRegistered, registerFastGradients, unregisterFastGradients } from '../src/engine/gradients/index.js';
import { buildUNet } from '../src/model/unet.js';
import { mulberry32 } from './helpers.js';

const RTOL = 1e-4;


function normal(shape: number[], seed: number, scale = 1): { shape: number[]; values: Float32Array } {
  const next = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = scale * (next() + next() + next() - 1.5) * 2;
  return { shape, values };
}

/** Values from a few levels with many exact zeros: ties in nearly every pooling window. */
function tied(shape: number[], seed: number): { shape: number[]; values: Float32Array } {
  const next = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = Math.max(0, Math.floor(next() * 4) - 1) * 0.5;
  return { shape, values };
}

type Data = { shape: number[]; values: Float32Array };
const T = (d: Data) => tf.tensor(d.values, d.shape, 'float32');

interface Run {
  outputs: Float32Array[];
  shapes: number[][];
  kernels: string[];
}

/** Runs `fn` on `backend` and returns its outputs as arrays plus the kernel names it dispatched. */
async function run(backend: 'cpu' | 'wasm', fn: () => tf.Tensor[]): Promise<Run> {
  if (!(await tf.setBackend(backend))) throw new Error(`${backend} did not initialise`);
  let result: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    result = fn();
    return result;
  });
  const outputs = result.map((t) => t.dataSync() as Float32Array);
  const shapes = result.map((t) => t.shape);
  tf.dispose(result);
  return { outputs, shapes, kernels: profile.kernels.map((k) => k.name) };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string, rtol = RTOL): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const scale = maxAbs(expected);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(Number.isFinite(worst), `${what}: non-finite difference at ${at}`).toBe(true);
  expect(worst, `${what}: max |wasm - cpu| = ${worst} at ${at} (max |cpu| = ${scale})`).toBeLessThanOrEqual(rtol * scale + 1e-30);
}

/** Same function on cpu (tfjs default gradients) and wasm (fast gradients); outputs must agree. */
async function compare(name: string, fn: () => tf.Tensor[], rtol = RTOL): Promise<{ cpu: Run; wasm: Run }> {
  const cpu = await run('cpu', fn);
  const wasm = await run('wasm', fn);
  expect(wasm.shapes).toEqual(cpu.shapes);
  cpu.outputs.forEach((expected, i) => {
    expect(maxAbs(expected), `${name}[${i}] is all zeros: the case tests nothing`).toBeGreaterThan(0);
    expectClose(wasm.outputs[i] as Float32Array, expected, `${name}[${i}]`, rtol);
  });
  return { cpu, wasm };
}

/** A random cotangent so the tested gradient is not a special (all-ones) one. */
function weightedSum(y: tf.Tensor, seed: number): tf.Scalar {
  return tf.sum(tf.mul(y, T(normal(y.shape, seed))));
}

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
  registerFastGradients();
  registerFastGradients(); // idempotent
});

describe('registration', () => {
  it('is idempotent and reversible', async () => {
    expect(fastGradientsRegistered()).toBe(true);
    const fast = tf.getGradient('Conv2D');
    const fastInputKernel = tf.getKernel('Conv2DBackpropInput', 'wasm');
    registerFastGradients();
    expect(tf.getGradient('Conv2D')).toBe(fast);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(fastInputKernel);
    unregisterFastGradients();
    expect(fastGradientsRegistered()).toBe(false);
    expect(tf.getGradient('Conv2D')).not.toBe(fast);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).not.toBe(fastInputKernel);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    registerFastGradients();
    expect(fastGradientsRegistered()).toBe(true);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).not.toBe(fastInputKernel); // a new wrapper, same behaviour
  });
});

describe('Conv2D', () => {
  const x = normal([2, 9, 11, 5], 1);
  const cases: { name: string; filter: number[]; strides: number | [number, number]; pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]; fast: boolean }[] = [
    { name: '3x3 same', filter: [3, 3, 5, 4], strides: 1, pad: 'same', fast: true },
    { name: '5x3 same', filter: [5, 3, 5, 6], strides: 1, pad: 'same', fast: true },
    { name: '1x1 same', filter: [1, 1, 5, 3], strides: 1, pad: 'same', fast: true },
    { name: '3x3 valid', filter: [3, 3, 5, 4], strides: 1, pad: 'valid', fast: false },
    { name: '3x3 same stride 2', filter: [3, 3, 5, 4], strides: 2, pad: 'same', fast: false },
    { name: '2x2 same (even)', filter: [2, 2, 5, 4], strides: 1, pad: 'same', fast: false },
    { name: '3x2 valid stride (2,1)', filter: [3, 2, 5, 4], strides: [2, 1], pad: 'valid', fast: false },
    { name: '3x3 explicit padding', filter: [3, 3, 5, 4], strides: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]], fast: false },
  ];
  for (const c of cases) {
    it(`input and filter gradients, ${c.name}`, async () => {
      const w = normal(c.filter, 2, 0.3);
      const { wasm } = await compare(`conv ${c.name}`, () => {
        const f = (a: tf.Tensor, b: tf.Tensor) => weightedSum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), 3);
        return tf.grads(f)([T(x), T(w)]);
      });
      expect(wasm.kernels).toContain('Conv2DBackpropFilter');
      if (c.fast) expect(wasm.kernels).not.toContain('Conv2DBackpropInput');
      else expect(wasm.kernels).toContain('Conv2DBackpropInput');
    });
  }

  it('the Conv2DBackpropInput kernel (conv2dTranspose) on wasm, replaced and passed-through cases', async () => {
    for (const [filter, strides, pad] of [
      [[3, 3, 4, 5], 1, 'same'],
      [[5, 1, 4, 5], 1, 'same'],
      [[3, 3, 4, 5], 2, 'same'],
      [[3, 3, 4, 5], 1, 'valid'],
      [[2, 2, 4, 5], 1, 'same'],
    ] as const) {
      const w = normal([...filter], 9, 0.3);
      const outShape: [number, number, number, number] = [2, 9, 11, filter[2]];
      const probe = tf.tidy(() => tf.conv2d(tf.zeros(outShape) as tf.Tensor4D, T(w) as tf.Tensor4D, strides, pad).shape);
      const dy = normal(probe, 10);
      await compare(`conv2dTranspose ${filter} ${strides} ${pad}`, () => [tf.conv2dTranspose(T(dy) as tf.Tensor4D, T(w) as tf.Tensor4D, outShape, strides, pad)]);
    }
  });

  it('fused conv2d (linear, bias): input, filter and bias gradients', async () => {
    const w = normal([3, 3, 5, 4], 4, 0.3);
    const b = normal([4], 5);
    const { wasm } = await compare('fused conv2d', () => {
      const f = (a: tf.Tensor, k: tf.Tensor, bias: tf.Tensor) =>
        weightedSum(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: k as tf.Tensor4D, strides: 1, pad: 'same', bias, activation: 'linear' }), 6);
      return tf.grads(f)([T(x), T(w), T(b)]);
    });
    expect(wasm.kernels).toContain('FusedConv2D');
    expect(wasm.kernels).toContain('Conv2DBackpropFilter');
  });

  it('tfjs-layers conv2d layers (linear: fused; relu: Conv2D + bias + Relu): weight gradients for training', async () => {
    const input = tf.input({ shape: [12, 12, 3] });
    const hidden = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(input) as tf.SymbolicTensor;
    const output = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(hidden) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const xs = normal([2, 12, 12, 3], 7);
    const { wasm } = await compare('layers conv weights', () => {
      const { grads } = tf.variableGrads(() => weightedSum(model.apply(T(xs)) as tf.Tensor, 8), vars);
      return vars.map((v) => grads[v.name] as tf.Tensor);
    });
    expect(wasm.kernels).toContain('FusedConv2D'); // the linear layer took the fused path
  });
});

describe('FusedBatchNorm', () => {
  const x = normal([2, 6, 7, 5], 11);
  const mean = normal([5], 12);
  const variance = { shape: [5], values: normal([5], 13).values.map((v) => 0.2 + v * v) };
  const offset = normal([5], 14);
  const scale = normal([5], 15);

  it('gradients for x, mean, variance, offset and scale (inference-style inputs)', async () => {
    const { wasm } = await compare('batchNorm', () => {
      const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
        weightedSum(tf.batchNorm(a as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3), 16);
      return tf.grads(f)([T(x), T(mean), T(variance), T(offset), T(scale)]);
    });
    expect(wasm.kernels).not.toContain('Tile');
  });

  it('input gradient alone is one broadcast multiply', async () => {
    const { wasm } = await compare('batchNorm dx', () => {
      const m = T(mean);
      const v = T(variance);
      const o = T(offset);
      const s = T(scale);
      return [tf.grad((a: tf.Tensor) => weightedSum(tf.batchNorm(a as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3), 17))(T(x))];
    });
    expect(wasm.kernels).not.toContain('Tile');
    expect(wasm.kernels).not.toContain('Sub'); // no x - mean when only dx is wanted
  });

  it('tfjs-layers BatchNormalization in training mode: x, gamma and beta gradients', async () => {
    const layer = tf.layers.batchNormalization({ gammaInitializer: tf.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 3 }), betaInitializer: tf.initializers.randomNormal({ seed: 4 }) });
    layer.apply(tf.input({ shape: [6, 7, 5] }));
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    await compare('BatchNormalization training', () => {
      const xt = tf.variable(T(x), true, `bn_x_${tf.getBackend()}`);
      const { grads } = tf.variableGrads(() => weightedSum(layer.apply(xt, { training: true }) as tf.Tensor, 18), [xt, ...vars]);
      const out = [xt, ...vars].map((v) => grads[v.name] as tf.Tensor);
      xt.dispose();
      return out;
    });
  });
});

describe('ResizeNearestNeighbor', () => {
  // tfjs-cpu's ResizeNearestNeighborGrad indexes dy with the images' batch stride, so its gradient is
  // wrong for every image after the first. The cpu reference is therefore taken one image at a time.
  const perImageOnCpu = (images: tf.Tensor, cotangent: tf.Tensor, grad: (t: tf.Tensor, r: tf.Tensor) => tf.Tensor): tf.Tensor => {
    const n = images.shape[0] as number;
    if (tf.getBackend() !== 'cpu' || n === 1) return grad(images, cotangent);
    const rs = tf.split(cotangent, n, 0);
    return tf.concat(tf.split(images, n, 0).map((t, i) => grad(t, rs[i] as tf.Tensor)), 0);
  };
  const cases: { name: string; shape: number[]; size: [number, number]; alignCorners?: boolean; halfPixelCenters?: boolean; fast: boolean }[] = [
    { name: 'x2, batch 2', shape: [2, 5, 7, 3], size: [10, 14], fast: true },
    { name: 'x3 by x2', shape: [1, 4, 5, 2], size: [12, 10], fast: true },
    { name: 'x3', shape: [1, 5, 6, 2], size: [15, 18], fast: true },
    { name: 'x2 align corners', shape: [1, 5, 7, 3], size: [10, 14], alignCorners: true, fast: false },
    { name: 'x2 half-pixel centres', shape: [1, 5, 7, 3], size: [10, 14], halfPixelCenters: true, fast: false },
    { name: 'non-integer 5 -> 8', shape: [1, 5, 5, 2], size: [8, 8], fast: false },
  ];
  for (const c of cases) {
    it(`gradient, ${c.name}`, async () => {
      const images = normal(c.shape, 21);
      const cotangent = normal([c.shape[0] as number, ...c.size, c.shape[3] as number], 22);
      const { wasm } = await compare(`resize ${c.name}`, () => {
        const grad = (a: tf.Tensor, r: tf.Tensor) =>
          tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, c.size, c.alignCorners ?? false, c.halfPixelCenters ?? false), r)))(a);
        return [perImageOnCpu(T(images), T(cotangent), grad)];
      });
      expect(wasm.kernels.includes('ResizeNearestNeighborGrad')).toBe(!c.fast);
    });
  }

  /** The exact gradient of an integer upsampling: each input pixel gets the sum of its output block (NHWC). */
  const blockSums = (cot: Data, shape: number[], fh: number, fw: number): Float32Array => {
    const [n, h, w, c] = shape as [number, number, number, number];
    const out = new Float32Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h * fh; y++)
        for (let x = 0; x < w * fw; x++)
          for (let k = 0; k < c; k++) out[((b * h + Math.floor(y / fh)) * w + Math.floor(x / fw)) * c + k]! += cot.values[((b * h * fh + y) * w * fw + x) * c + k]!;
    return out;
  };

  it('integer upsampling of a batch: the exact block sums on cpu and wasm alike (tfjs-cpu alone gets images after the first wrong)', async () => {
    const shape = [3, 5, 7, 2];
    const images = normal(shape, 31);
    const cotangent = normal([3, 10, 21, 2], 32);
    const expected = blockSums(cotangent, shape, 2, 3);
    for (const backend of ['cpu', 'wasm'] as const) {
      const r = await run(backend, () => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [10, 21]), T(cotangent))))(T(images))]);
      expectClose(r.outputs[0]!, expected, `${backend} batch of 3`, 1e-6);
      expect(r.kernels).not.toContain('ResizeNearestNeighborGrad');
    }
    // What tfjs-cpu's own gradient does, so this test notices if a tfjs upgrade fixes it.
    unregisterFastGradients();
    try {
      const own = await run('cpu', () => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [10, 21]), T(cotangent))))(T(images))]);
      const perImage = 5 * 7 * 2;
      expectClose(own.outputs[0]!.subarray(0, perImage), expected.subarray(0, perImage), 'tfjs-cpu first image', 1e-6);
      expect(maxAbs(own.outputs[0]!.subarray(perImage).map((v, i) => v - expected[perImage + i]!))).toBeGreaterThan(1e-3);
    } finally {
      registerFastGradients();
      await tf.setBackend('wasm');
      registerFastGradients();
    }
  });

  it('tfjs-layers UpSampling2D', async () => {
    const layer = tf.layers.upSampling2d({ size: [2, 2] });
    const images = normal([1, 4, 6, 3], 23);
    const { wasm } = await compare('UpSampling2D', () => [tf.grad((a: tf.Tensor) => weightedSum(layer.apply(a) as tf.Tensor, 24))(T(images))]);
    expect(wasm.kernels).not.toContain('ResizeNearestNeighborGrad');
  });
});

describe('Concat', () => {
  const a = normal([2, 4, 5, 3], 31);
  const b = normal([2, 4, 5, 6], 32);
  const c = normal([2, 4, 5, 1], 33);
  for (const axis of [3, -1, 0, 1, 2]) {
    it(`gradient along axis ${axis}`, async () => {
      // Shapes that agree everywhere but along the axis.
      const ax = axis < 0 ? axis + 4 : axis;
      const shapes = [3, 6, 1].map((k) => [2, 4, 5, 3].map((d, i) => (i === ax ? k : i === 3 ? 3 : d)));
      const inputs = shapes.map((s, i) => normal(s, 34 + i));
      const { wasm } = await compare(`concat axis ${axis}`, () => {
        const f = (...ts: tf.Tensor[]) => weightedSum(tf.concat(ts, axis), 37);
        return tf.grads(f)(inputs.map(T));
      });
      expect(wasm.kernels).not.toContain('SplitV');
      expect(wasm.kernels).toContain('UnetDreamSplitV');
    });
  }

  it('tfjs-layers Concatenate (channels, as in the U-Net)', async () => {
    const layer = tf.layers.concatenate();
    await compare('Concatenate', () => {
      const f = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => weightedSum(layer.apply([p, q, r]) as tf.Tensor, 38);
      return tf.grads(f)([T(a), T(b), T(c)]);
    });
  });
});

describe('MaxPool', () => {
  const cases: { name: string; shape: number[]; filter: number | [number, number]; strides: number | [number, number]; pad: 'same' | 'valid'; ties: boolean }[] = [
    { name: '2x2/2 valid', shape: [2, 8, 10, 4], filter: 2, strides: 2, pad: 'valid', ties: true },
    { name: '2x2/2 valid, odd size', shape: [1, 9, 11, 3], filter: 2, strides: 2, pad: 'valid', ties: true },
    { name: '2x2/2 same, even size', shape: [1, 8, 6, 3], filter: 2, strides: 2, pad: 'same', ties: true },
    { name: '3x3/3 valid', shape: [1, 9, 12, 2], filter: 3, strides: 3, pad: 'valid', ties: true },
    { name: '2x3/(2,3) valid', shape: [1, 8, 9, 2], filter: [2, 3], strides: [2, 3], pad: 'valid', ties: true },
    { name: '3x3/2 same (overlapping, padded)', shape: [2, 9, 9, 3], filter: 3, strides: 2, pad: 'same', ties: true },
    { name: '2x2/2 same, odd size (padded)', shape: [1, 7, 7, 2], filter: 2, strides: 2, pad: 'same', ties: true },
    { name: '3x3/1 valid (overlapping)', shape: [1, 6, 7, 2], filter: 3, strides: 1, pad: 'valid', ties: true },
    { name: '2x2/2 valid, no ties', shape: [2, 8, 8, 3], filter: 2, strides: 2, pad: 'valid', ties: false },
    { name: '3x3/2 same, no ties', shape: [1, 9, 9, 3], filter: 3, strides: 2, pad: 'same', ties: false },
  ];
  for (const c of cases) {
    it(`gradient goes to the first maximum, ${c.name}${c.ties ? ', with ties' : ''}`, async () => {
      const x = c.ties ? tied(c.shape, 41) : normal(c.shape, 41);
      if (c.ties) {
        let zeros = 0;
        for (const v of x.values) if (v === 0) zeros++;
        expect(zeros).toBeGreaterThan(x.values.length / 4); // windows with tied maxima are common
      }
      const { wasm } = await compare(`maxPool ${c.name}`, () => [
        tf.grad((a: tf.Tensor) => weightedSum(tf.maxPool(a as tf.Tensor4D, c.filter, c.strides, c.pad), 42))(T(x)),
      ]);
      expect(wasm.kernels).not.toContain('MaxPoolGrad');
      expect(wasm.kernels).toContain('UnetDreamMaxPoolGradFirst');
    });
  }

  it("wasm's own MaxPoolGrad routes tied windows elsewhere (the reason for this gradient)", async () => {
    const x = { shape: [1, 4, 4, 1], values: new Float32Array([0, 0, 1, 1, 0, 0, 1, 1, 0.5, 0, 0, 0, 0, 0.5, 0, 0]) };
    const f = () => [tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(T(x))];
    const cpu = await run('cpu', f);
    const fast = await run('wasm', f);
    unregisterFastGradients();
    let plain: Run;
    try {
      plain = await run('wasm', f);
    } finally {
      registerFastGradients();
    }
    expect(Array.from(cpu.outputs[0] as Float32Array)).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(fast.outputs[0] as Float32Array)).toEqual(Array.from(cpu.outputs[0] as Float32Array));
    // wasm sends the tied windows' gradient elsewhere (to the last 1 and the last 0.5, for instance).
    expect(Array.from(plain.outputs[0] as Float32Array)).not.toEqual(Array.from(cpu.outputs[0] as Float32Array));
  });
});

describe('whole U-Net (32x32)', () => {
  const model = buildUNet({ size: 32 });
  const x = { shape: [1, 32, 32, 1], values: normal([1, 32, 32, 1], 51).values.map((v) => Math.abs(v)) };

  it('input gradient of one uconv64 filter matches the cpu default, without the slow kernels', async () => {
    const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer('uconv64').output as tf.SymbolicTensor });
    const { wasm } = await compare('U-Net uconv64 input gradient', () => [
      tf.grad((a: tf.Tensor) => tf.mean(tf.slice(sub.apply(a) as tf.Tensor, [0, 0, 0, 5], [-1, -1, -1, 1])))(T(x)),
    ]);
    for (const slow of ['Conv2DBackpropInput', 'MaxPoolGrad', 'Tile', 'SplitV', 'ResizeNearestNeighborGrad']) {
      expect(wasm.kernels, slow).not.toContain(slow);
    }
    // No tensors leak from the fast gradients.
    const input = T(x);
    const before = tf.memory().numTensors;
    tf.dispose(tf.grad((a: tf.Tensor) => tf.mean(sub.apply(a) as tf.Tensor))(input));
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('input gradient of the output (final_conv1, fused linear conv) matches', async () => {
    await compare('U-Net output input gradient', () => [tf.grad((a: tf.Tensor) => weightedSum(model.apply(a) as tf.Tensor, 52))(T(x))]);
  });

  it('training: gradients of every trainable weight (BatchNorm in training mode) match, at 16x16', async () => {
    // 16x16 because tfjs-cpu's Conv2DBackpropFilter takes ~45 s for this model at 32x32.
    const small = buildUNet({ size: 16 });
    const vars = small.trainableWeights.map((v) => v.read() as tf.Variable);
    // Batch 1: tfjs-cpu's upsampling gradient is wrong past the first image (see ResizeNearestNeighbor).
    const input = { shape: [1, 16, 16, 1], values: normal([1, 16, 16, 1], 54).values.map((v) => Math.abs(v)) };
    const target = normal([1, 16, 16, 1], 53);
    const { wasm } = await compare('U-Net weight gradients', () => {
      const { grads } = tf.variableGrads(() => tf.losses.meanSquaredError(T(target), small.apply(T(input), { training: true }) as tf.Tensor) as tf.Scalar, vars);
      return vars.map((v) => grads[v.name] as tf.Tensor);
    });
    expect(wasm.kernels).toContain('Conv2DBackpropFilter');
  });
});
