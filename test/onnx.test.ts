/**
 * ONNX engine parity against the tfjs engine on the 'cpu' backend (tfjs' own gradients): for each
 * supported layer type on small models, and for the U-Net at every target layer. Objective values and
 * input gradients must agree within 1e-4 of the gradient's scale (max |g|); exact ReLU / max-pool ties
 * may route differently on at most 0.5% of pixels, counted here.
 *
 * Set ONNX_PARITY_REPORT=1 to print the measured differences per case.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type LayersModel } from '../src/tf.js';
import { selectBackend } from '../src/engine/backend.js';
import { TfjsEngine, normalizeGradient } from '../src/engine/tfjs-engine.js';
import type { Batch, GradientNormalization, Objective } from '../src/engine/engine.js';
import { createRng } from '../src/random.js';
import { buildUNet } from '../src/model/unet.js';
import {
  OnnxEngine,
  OnnxUnavailableError,
  OnnxUnsupportedError,
  compileGradientGraph,
  cudaProviderInstalled,
  findUnsupportedLayer,
} from '../src/engine/onnx/index.js';
import { loadKerasH5 } from '../src/model/keras-h5.js';

const TOLERANCE = 1e-4;
const TIE_FRACTION = 0.005;
const report: string[] = [];

function randomBatch(n: number, h: number, w: number, c: number, seed: number, lo = -1, hi = 1): Batch {
  const rng = createRng(seed);
  const data = new Float32Array(n * h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * rng.next();
  return { data, n, height: h, width: w, channels: c };
}

interface Diff {
  valueRel: number;
  gradRel: number;
  /** Elements over tolerance (ties). */
  bad: number;
  maxG: number;
}

function compare(
  a: { values: Float32Array; gradient: Float32Array },
  b: { values: Float32Array; gradient: Float32Array },
): Diff {
  expect(b.values.length).toBe(a.values.length);
  expect(b.gradient.length).toBe(a.gradient.length);
  let maxG = 0;
  for (const v of a.gradient) maxG = Math.max(maxG, Math.abs(v));
  let maxV = 0;
  for (const v of a.values) maxV = Math.max(maxV, Math.abs(v));
  let valueDiff = 0;
  a.values.forEach((v, i) => (valueDiff = Math.max(valueDiff, Math.abs(v - b.values[i]!))));
  let gradDiff = 0;
  let bad = 0;
  const scale = maxG > 0 ? maxG : 1;
  a.gradient.forEach((v, i) => {
    const d = Math.abs(v - b.gradient[i]!);
    if (d > TOLERANCE * scale) bad++;
    else gradDiff = Math.max(gradDiff, d);
  });
  return { valueRel: valueDiff / Math.max(maxV, 1e-6), gradRel: gradDiff / scale, bad, maxG };
}

function expectParity(name: string, d: Diff, total: number, allowTies = false): void {
  report.push(`${name.padEnd(34)} value ${d.valueRel.toExponential(2)}  grad ${d.gradRel.toExponential(2)}  ties ${d.bad}/${total}  max|g| ${d.maxG.toExponential(2)}`);
  expect(d.maxG, `${name}: gradient is all zeros, the case tests nothing`).toBeGreaterThan(0);
  expect(d.valueRel, `${name}: objective values`).toBeLessThan(TOLERANCE);
  expect(d.gradRel, `${name}: gradient`).toBeLessThan(TOLERANCE);
  expect(d.bad, `${name}: elements beyond tolerance`).toBeLessThanOrEqual(allowTies ? Math.floor(TIE_FRACTION * total) : 0);
}

async function parity(
  name: string,
  model: LayersModel,
  objective: Objective,
  x: Batch,
  normalize: GradientNormalization = 'none',
  allowTies = false,
  referenceModel: LayersModel = model,
): Promise<Diff> {
  const reference = new TfjsEngine(referenceModel, { backend: 'cpu', provider: 'test' });
  const engine = new OnnxEngine(model, { threads: 2 });
  try {
    const a = await reference.gradient(x, objective, normalize);
    const b = await engine.gradient(x, objective, normalize);
    const d = compare(a, b);
    expectParity(name, d, b.gradient.length, allowTies);
    const values = await engine.evaluate(x, objective);
    values.forEach((v, i) => expect(Math.abs(v - b.values[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
    return d;
  } finally {
    engine.dispose();
    reference.dispose();
  }
}

/**
 * For layers tfjs cannot differentiate (dilated convolutions, ThresholdedReLU) or differentiates
 * inconsistently with its own forward pass ('same' average pooling divides border windows by k*k;
 * ResizeBilinear's gradient fails on non-square images): central finite differences of tfjs' forward
 * pass at every input element, within FD_TOLERANCE of max |g|.
 */
const FD_TOLERANCE = 2e-3;
async function fdParity(name: string, model: LayersModel, objective: Objective, x: Batch): Promise<void> {
  const reference = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
  const engine = new OnnxEngine(model, { threads: 2 });
  try {
    const b = await engine.gradient(x, objective, 'none');
    const values = await reference.evaluate(x, objective);
    const h = 1e-2;
    // All perturbed copies in one batch per sign: image i moves element i.
    const count = x.data.length;
    const plus = { ...x, n: count, data: new Float32Array(count * count) };
    for (let i = 0; i < count; i++) plus.data.set(x.data, i * count);
    const minus = { ...plus, data: Float32Array.from(plus.data) };
    for (let i = 0; i < count; i++) {
      plus.data[i * count + i]! += h;
      minus.data[i * count + i]! -= h;
    }
    const many: Objective = objective.kind === 'filter' ? { ...objective, filters: new Array<number>(count).fill(objective.filters[0]!) } : objective;
    const [vp, vm] = [await reference.evaluate(plus, many), await reference.evaluate(minus, many)];
    const fd = { values, gradient: Float32Array.from({ length: count }, (_, i) => (vp[i]! - vm[i]!) / (2 * h)) };
    let maxG = 0;
    fd.gradient.forEach((v) => (maxG = Math.max(maxG, Math.abs(v))));
    let worst = 0;
    fd.gradient.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b.gradient[i]!))));
    const valueRel = Math.abs(values[0]! - b.values[0]!) / Math.max(Math.abs(values[0]!), 1e-6);
    report.push(`${name.padEnd(34)} value ${valueRel.toExponential(2)}  grad ${(worst / maxG).toExponential(2)} (vs finite differences)  max|g| ${maxG.toExponential(2)}`);
    expect(maxG).toBeGreaterThan(0);
    expect(valueRel).toBeLessThan(TOLERANCE);
    expect(worst / maxG, `${name}: gradient vs finite differences`).toBeLessThan(FD_TOLERANCE);
  } finally {
    engine.dispose();
    reference.dispose();
  }
}

const L = tf.layers;
type Sym = tf.SymbolicTensor;
let seedCounter = 100;
const init = () => tf.initializers.glorotUniform({ seed: seedCounter++ });
const uniform = (lo: number, hi: number) => tf.initializers.randomUniform({ minval: lo, maxval: hi, seed: seedCounter++ });
const conv = (filters: number, extra: Partial<Parameters<typeof L.conv2d>[0]> = {}) =>
  L.conv2d({ filters, kernelSize: 3, padding: 'same', kernelInitializer: init(), biasInitializer: uniform(-0.2, 0.2), ...extra });

/** A model: input [h?, w?, c] -> body -> output named 'target'. */
function tinyModel(body: (x: Sym) => Sym, channels = 2, size: number | null = null): LayersModel {
  const input = tf.input({ shape: [size, size, channels], name: 'in' });
  const out = body(input);
  return tf.model({ inputs: input, outputs: out });
}

const l2: (layer: string) => Objective = (layer) => ({ kind: 'layers', terms: [{ layer, weight: 1, reduce: 'l2' }] });

interface Case {
  name: string;
  /** Check against finite differences of tfjs' forward pass instead of tfjs' gradient. */
  fd?: boolean;
  /** An equivalent model for tfjs to differentiate (sharing the model's layers). */
  reference?: (model: LayersModel) => LayersModel;
  build: () => LayersModel;
  /** Input height x width (default 9x9: odd, to exercise padding and stride remainders). */
  size?: [number, number];
  channels?: number;
  objective?: Objective;
}

/** Each case ends in a layer named 'target' whose l2 (mean square) is the objective. */
const CASES: Case[] = [
  { name: 'Conv2D same relu + bias', build: () => tinyModel((x) => conv(3, { activation: 'relu', name: 'target' }).apply(x) as Sym) },
  { name: 'Conv2D valid stride 2', build: () => tinyModel((x) => conv(3, { padding: 'valid', strides: 2, name: 'target' }).apply(x) as Sym) },
  { name: 'Conv2D same stride 2 k4', build: () => tinyModel((x) => conv(3, { kernelSize: 4, strides: 2, name: 'target' }).apply(x) as Sym) },
  { name: 'Conv2D same stride [2,3] k3', build: () => tinyModel((x) => conv(3, { strides: [2, 3], name: 'target' }).apply(x) as Sym), size: [10, 11] },
  { name: 'Conv2D same k2 (asymmetric pad)', build: () => tinyModel((x) => conv(3, { kernelSize: 2, name: 'target' }).apply(x) as Sym) },
  { name: 'Conv2D dilation 2', fd: true, build: () => tinyModel((x) => conv(3, { dilationRate: 2, name: 'target' }).apply(x) as Sym) },
  { name: 'Conv2D valid dilation 2 k[2,3]', fd: true, build: () => tinyModel((x) => conv(3, { padding: 'valid', kernelSize: [2, 3], dilationRate: 2, name: 'target' }).apply(x) as Sym) },
  {
    name: 'Conv2D no bias, filter objective',
    build: () => tinyModel((x) => conv(4, { useBias: false, activation: 'tanh', name: 'target' }).apply(x) as Sym),
    objective: { kind: 'filter', layer: 'target', filters: [2] },
  },
  ...(['sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'softmax', 'swish', 'relu6', 'linear'] as const).map((activation) => ({
    name: `activation ${activation}`,
    build: () => tinyModel((x) => conv(3, { activation: activation as 'relu', name: 'target', kernelInitializer: uniform(-1.5, 1.5) }).apply(x) as Sym),
  })),
  {
    name: 'Conv2DTranspose same s2 k3',
    build: () => tinyModel((x) => L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', name: 'target', kernelInitializer: init() }).apply(x) as Sym),
  },
  {
    name: 'Conv2DTranspose valid s2 k3 relu',
    build: () =>
      tinyModel((x) => L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 'target', kernelInitializer: init(), biasInitializer: uniform(0, 0.3) }).apply(x) as Sym),
  },
  {
    name: 'Conv2DTranspose same s2 k2 / s3 k1',
    build: () =>
      tinyModel((x) => {
        const a = L.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init() }).apply(x) as Sym;
        return L.conv2dTranspose({ filters: 2, kernelSize: 1, strides: 3, padding: 'valid', name: 'target', kernelInitializer: init() }).apply(a) as Sym;
      }),
    size: [5, 6],
  },
  {
    name: 'DepthwiseConv2D mult 2',
    build: () => tinyModel((x) => L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'target', depthwiseInitializer: init(), biasInitializer: uniform(-0.2, 0.2) }).apply(x) as Sym),
  },
  {
    name: 'DepthwiseConv2D stride 2 same',
    build: () => tinyModel((x) => L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', name: 'target', depthwiseInitializer: init() }).apply(x) as Sym),
  },
  {
    name: 'SeparableConv2D',
    build: () =>
      tinyModel((x) => L.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same', depthMultiplier: 2, name: 'target', depthwiseInitializer: init(), pointwiseInitializer: init(), biasInitializer: uniform(-0.2, 0.2) }).apply(x) as Sym),
  },
  {
    // tfjs' withInputSize refuses to resize any model with a Dense layer: build it at the test size.
    name: 'Dense on channels',
    build: () => tinyModel((x) => L.dense({ units: 3, activation: 'tanh', name: 'target', kernelInitializer: init(), biasInitializer: uniform(-0.2, 0.2) }).apply(x) as Sym, 2, 9),
  },
  {
    name: 'Flatten + Dense + Reshape (fixed size)',
    build: () =>
      tinyModel(
        (x) => {
          const d = L.dense({ units: 12, activation: 'sigmoid', kernelInitializer: init() }).apply(L.flatten().apply(conv(2).apply(x) as Sym) as Sym) as Sym;
          return L.reshape({ targetShape: [2, 2, 3], name: 'target' }).apply(d) as Sym;
        },
        2,
        6,
      ),
    size: [6, 6],
  },
  {
    name: 'Reshape + Permute (fixed size)',
    build: () =>
      tinyModel(
        (x) => {
          const r = L.reshape({ targetShape: [3, 12, 2] }).apply(conv(2).apply(x) as Sym) as Sym;
          return conv(2, { name: 'target' }).apply(L.permute({ dims: [2, 1, 3] }).apply(r) as Sym) as Sym;
        },
        2,
        6,
      ),
    size: [6, 6],
  },
  {
    name: 'BatchNormalization (inference)',
    build: () =>
      tinyModel((x) =>
        L.batchNormalization({
          name: 'target',
          movingMeanInitializer: uniform(-0.5, 0.5),
          movingVarianceInitializer: uniform(0.3, 2),
          gammaInitializer: uniform(0.5, 1.5),
          betaInitializer: uniform(-0.5, 0.5),
        }).apply(conv(3).apply(x) as Sym) as Sym,
      ),
  },
  {
    name: 'BatchNormalization without scale',
    fd: true, // tfjs' batchNorm gradient fails without gamma
    build: () =>
      tinyModel((x) => L.batchNormalization({ name: 'target', scale: false, betaInitializer: uniform(-0.5, 0.5), movingMeanInitializer: uniform(-0.5, 0.5), movingVarianceInitializer: uniform(0.3, 2) }).apply(x) as Sym),
  },
  { name: 'LeakyReLU', build: () => tinyModel((x) => L.leakyReLU({ alpha: 0.2, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'PReLU shared [1,2]', build: () => tinyModel((x) => L.prelu({ sharedAxes: [1, 2], alphaInitializer: uniform(0.1, 0.5), name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'ReLU maxValue', build: () => tinyModel((x) => L.reLU({ maxValue: 0.3, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'ELU layer', build: () => tinyModel((x) => L.elu({ name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'Softmax layer', build: () => tinyModel((x) => L.softmax({ axis: -1, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  {
    // tfjs has no gradient for ThresholdedReLU (Greater); at theta 0 it is ReLU, whose gradient tfjs has.
    name: 'ThresholdedReLU (theta 0 vs ReLU)',
    build: () => tinyModel((x) => L.thresholdedReLU({ theta: 0, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym),
    reference: (model) => {
      const input = tf.input({ shape: [null, null, 2] });
      const convLayer = model.layers[1]!;
      return tf.model({ inputs: input, outputs: L.reLU({ name: 'target' }).apply(convLayer.apply(input) as Sym) as Sym });
    },
  },
  { name: 'Activation layer (tanh)', build: () => tinyModel((x) => L.activation({ activation: 'tanh', name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'MaxPooling2D 2 valid', build: () => tinyModel((x) => L.maxPooling2d({ poolSize: 2, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'MaxPooling2D 3 stride 2 same', build: () => tinyModel((x) => L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'MaxPooling2D 3 stride 1 valid', build: () => tinyModel((x) => L.maxPooling2d({ poolSize: 3, strides: 1, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'AveragePooling2D 2 valid', build: () => tinyModel((x) => L.averagePooling2d({ poolSize: 2, name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'AveragePooling2D 3 s1 same', fd: true, build: () => tinyModel((x) => L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'AveragePooling2D 3 s2 same', fd: true, build: () => tinyModel((x) => L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'target' }).apply(conv(3).apply(x) as Sym) as Sym) },
  { name: 'UpSampling2D nearest [2,3]', build: () => tinyModel((x) => conv(2, { name: 'target' }).apply(L.upSampling2d({ size: [2, 3] }).apply(x) as Sym) as Sym), size: [5, 4] },
  {
    name: 'UpSampling2D bilinear [2,2]',
    fd: true,
    build: () => tinyModel((x) => conv(2, { name: 'target' }).apply(L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(x) as Sym) as Sym),
    size: [5, 4],
  },
  {
    name: 'UpSampling2D bilinear [2,2] square',
    build: () => tinyModel((x) => conv(2, { name: 'target' }).apply(L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(x) as Sym) as Sym),
    size: [5, 5],
  },
  {
    name: 'UpSampling2D bilinear [3,2]',
    fd: true,
    build: () => tinyModel((x) => conv(2, { name: 'target' }).apply(L.upSampling2d({ size: [3, 2], interpolation: 'bilinear' }).apply(x) as Sym) as Sym),
    size: [4, 3],
  },
  {
    name: 'Concatenate channels + skip',
    build: () =>
      tinyModel((x) => {
        const a = conv(3, { activation: 'tanh' }).apply(x) as Sym;
        return conv(2, { name: 'target' }).apply(L.concatenate().apply([a, x, a]) as Sym) as Sym;
      }),
  },
  {
    name: 'Concatenate along height',
    build: () => tinyModel((x) => conv(2, { name: 'target' }).apply(L.concatenate({ axis: 1 }).apply([conv(2).apply(x) as Sym, x]) as Sym) as Sym),
  },
  {
    name: 'Add / Multiply / Average',
    build: () =>
      tinyModel((x) => {
        const a = conv(2, { activation: 'tanh' }).apply(x) as Sym;
        const b = conv(2, { activation: 'sigmoid' }).apply(x) as Sym;
        const s = L.add().apply([a, b, x]) as Sym;
        const d = L.add().apply([s, b]) as Sym;
        const m = L.multiply().apply([d, a, b]) as Sym;
        return L.average({ name: 'target' }).apply([m, a]) as Sym;
      }),
  },
  {
    name: 'ZeroPadding2D + Cropping2D',
    build: () =>
      tinyModel((x) => {
        const p = L.zeroPadding2d({ padding: [[1, 2], [0, 3]] }).apply(x) as Sym;
        return L.cropping2D({ cropping: [[2, 0], [1, 1]], name: 'target' }).apply(conv(2).apply(p) as Sym) as Sym;
      }),
  },
  {
    name: 'GlobalAverage/MaxPooling2D',
    build: () =>
      tinyModel((x) => {
        const c = conv(3).apply(x) as Sym;
        const a = L.globalAveragePooling2d({}).apply(c) as Sym;
        const m = L.globalMaxPooling2d({}).apply(c) as Sym;
        return L.reshape({ targetShape: [1, 1, 6], name: 'target' }).apply(L.concatenate().apply([a, m]) as Sym) as Sym;
      }, 2, 9),
  },
  {
    name: 'Dropout / GaussianNoise (identity)',
    build: () =>
      tinyModel((x) => {
        const d = L.dropout({ rate: 0.5 }).apply(conv(3).apply(x) as Sym) as Sym;
        const n = L.gaussianDropout({ rate: 0.3 }).apply(L.gaussianNoise({ stddev: 1 }).apply(d) as Sym) as Sym;
        return conv(2, { name: 'target' }).apply(L.alphaDropout({ rate: 0.5 }).apply(n) as Sym) as Sym;
      }),
  },
];

describe('onnx engine: per-layer parity with tfjs (cpu backend)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const model = c.build();
      const [h, w] = c.size ?? [9, 9];
      const x = randomBatch(1, h, w, c.channels ?? 2, seedCounter++);
      const target = model.layers[model.layers.length - 1]!.name;
      if (c.fd) await fdParity(c.name, model, c.objective ?? l2(target), x);
      else await parity(c.name, model, c.objective ?? l2(target), x, 'none', false, c.reference?.(model));
    });
  }

  it('normalisations rms, std and meanabs match, per image of a batch', async () => {
    const model = tinyModel((x) => conv(4, { activation: 'tanh', name: 'target' }).apply(L.maxPooling2d({ poolSize: 2 }).apply(conv(3).apply(x) as Sym) as Sym) as Sym);
    const x = randomBatch(3, 8, 8, 2, 7);
    for (const normalize of ['rms', 'std', 'meanabs'] as const) {
      await parity(`normalize ${normalize} (batch 3)`, model, { kind: 'filter', layer: 'target', filters: [0, 3, 1] }, x, normalize);
    }
  });

  it('a Sequential model compiles (its implicit input layer)', async () => {
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), biasInitializer: uniform(0, 0.2) }),
        L.averagePooling2d({ poolSize: 2 }),
        L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'seq_target', kernelInitializer: init() }),
      ],
    });
    await parity('Sequential', model, l2('seq_target'), randomBatch(1, 8, 8, 1, 3));
  });
});

describe('onnx engine: the U-Net at 32x32', () => {
  let model: LayersModel;
  let reference: TfjsEngine;
  let engine: OnnxEngine;
  const x = randomBatch(1, 32, 32, 1, 2019, 0, 2); // the seed's [0, 2) noise

  beforeAll(async () => {
    await selectBackend('cpu');
    model = buildUNet({ size: null });
    reference = new TfjsEngine(model, { backend: 'cpu', provider: 'test' });
    engine = new OnnxEngine(model, { threads: 2 });
  });
  afterAll(() => {
    engine?.dispose();
    reference?.dispose();
  });

  const layers = ['dconv64', 'dconv128', 'dconv256', 'conv512', 'uconv256', 'uconv128', 'uconv64', 'econv64', 'final_conv1'];
  for (const layer of layers) {
    it(`filter objective at ${layer}, and rms-normalised like the seed`, async () => {
      // A filter that is alive on this input (a dead ReLU filter has a zero gradient: nothing to compare).
      let filter = 0;
      if (layer !== 'final_conv1') {
        for (filter = 5; filter < 64; filter++) {
          if ((await engine.evaluate(x, { kind: 'filter', layer, filters: [filter] }))[0]! > 0) break;
        }
      }
      const objective: Objective = { kind: 'filter', layer, filters: [filter] };
      // tfjs' oneHot refuses depth 1, so its filter objective cannot run on the 1-channel final_conv1;
      // the mean over that single channel is the same objective.
      const ref = layer === 'final_conv1' ? ({ kind: 'layers', terms: [{ layer, weight: 1, reduce: 'mean' }] } as Objective) : objective;
      const a = await reference.gradient(x, ref, 'none');
      const b = await engine.gradient(x, objective, 'none');
      expectParity(`U-Net ${layer} f${filter}`, compare(a, b), b.gradient.length, true);
      // The seed's normalisation, in the graph vs tfjs' normalizeGradient (checked against tfjs on small models above).
      const bn = await engine.gradient(x, objective, 'rms');
      const an = { values: a.values, gradient: tf.tidy(() => normalizeGradient(tf.tensor4d(a.gradient, [1, 32, 32, 1]), 'rms').dataSync() as Float32Array) };
      expectParity(`U-Net ${layer} f${filter} (rms)`, compare(an, bn), bn.gradient.length, true);
    });
  }

  it('layers objective: mean and l2 weighted over two layers', async () => {
    const objective: Objective = {
      kind: 'layers',
      terms: [
        { layer: 'uconv128', weight: 1, reduce: 'mean' },
        { layer: 'conv512', weight: 0.5, reduce: 'l2' },
      ],
    };
    const a = await reference.gradient(x, objective, 'none');
    const b = await engine.gradient(x, objective, 'none');
    expectParity('U-Net layers uconv128+conv512', compare(a, b), b.gradient.length, true);
  });

  it('a batch of 3 images with 3 filters equals one image at a time (and the any-batch graph)', async () => {
    const batch = randomBatch(3, 32, 32, 1, 77, 0, 2);
    const filters = [3, 17, 40];
    const together = await engine.gradient(batch, { kind: 'filter', layer: 'uconv64', filters }, 'rms');
    const general = new OnnxEngine(model, { threads: 2, specializeBatch: false });
    try {
      const anyBatch = await general.gradient(batch, { kind: 'filter', layer: 'uconv64', filters }, 'rms');
      expectParity('batch 3: picked vs any-batch graph', compare(anyBatch, together), together.gradient.length);
    } finally {
      general.dispose();
    }
    const size = 32 * 32;
    for (let i = 0; i < 3; i++) {
      const one = { ...batch, n: 1, data: batch.data.slice(i * size, (i + 1) * size) };
      const alone = await engine.gradient(one, { kind: 'filter', layer: 'uconv64', filters: [filters[i]!] }, 'rms');
      const part = { values: together.values.slice(i, i + 1), gradient: together.gradient.slice(i * size, (i + 1) * size) };
      expectParity(`batch 3: image ${i} alone`, compare(alone, part), size);
    }
    expect(engine.stats().compiles).toBeGreaterThan(0);
    expect(engine.stats().compileMs).toBeGreaterThan(0);
  });

  it('one compiled graph serves any image size (symbolic height and width)', async () => {
    const objective: Objective = { kind: 'filter', layer: 'uconv128', filters: [5] };
    await engine.gradient(x, objective, 'none');
    const compiles = engine.stats().compiles;
    const other = randomBatch(1, 24, 40, 1, 99, 0, 2);
    const a = await reference.gradient(other, objective, 'none');
    const b = await engine.gradient(other, objective, 'none');
    expectParity('U-Net uconv128 at 24x40', compare(a, b), b.gradient.length, true);
    expect(engine.stats().compiles).toBe(compiles);
  });

  it('rejects filters out of range with a usage error', async () => {
    await expect(engine.gradient(x, { kind: 'filter', layer: 'uconv64', filters: [64] }, 'rms')).rejects.toThrow(/out of range/);
  });
});

const REALDATA_KERAS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'realdata', 'keras');
const KERAS_FILES: [string, number, number][] = [
  ['tensorspace_mnist_lenet.h5', 28, 1], // Sequential, input [28, 28] without channels, Reshape, Flatten, Dense
  ['dl4j_12net_mtcnn.h5', 24, 3], // functional, any size, PReLU with shared axes, two outputs
];

describe('onnx engine: Keras imports', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('a model rebuilt from its Keras JSON config (as .h5 and model.json loads do)', async () => {
    const model = tinyModel((x) => conv(2, { name: 'target' }).apply(L.maxPooling2d({ poolSize: 2 }).apply(conv(3, { activation: 'relu' }).apply(x) as Sym) as Sym) as Sym);
    // toJSON -> modelFromJSON -> setWeights, as the loaders do.
    const rebuilt = await tf.models.modelFromJSON({ modelTopology: model.toJSON(undefined, false) } as unknown as tf.io.ModelJSON);
    rebuilt.setWeights(model.getWeights());
    expect(rebuilt).not.toBe(model);
    await parity('Keras JSON round trip', rebuilt, { kind: 'filter', layer: 'target', filters: [1] }, randomBatch(1, 8, 8, 2, 5), 'none', true);
  });

  const present = KERAS_FILES.filter(([f]) => existsSync(path.join(REALDATA_KERAS, f)));
  if (present.length < KERAS_FILES.length) {
    console.log(`onnx: ${KERAS_FILES.length - present.length} real Keras file(s) not found under ${REALDATA_KERAS}; their tests are skipped`);
  }
  for (const [file, size, channels] of KERAS_FILES) {
    it.skipIf(!present.some(([f]) => f === file))(`real Keras file ${file}: every image layer`, async () => {
      const model = await loadKerasH5(path.join(REALDATA_KERAS, file));
      expect(findUnsupportedLayer(model)).toBeUndefined();
      const x = randomBatch(1, size, size, channels, 11, 0, 1);
      for (const layer of model.layers.filter((l) => l.getClassName() !== 'InputLayer' && (l.outputShape as number[]).length === 4)) {
        await parity(`${file} ${layer.name}`, model, l2(layer.name), x, 'none', true);
      }
    });
  }
});

describe('onnx engine: unsupported layers', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('names the layer and its class in a typed error, only when it is on the path', async () => {
    const input = tf.input({ shape: [null, null, 2] });
    const a = conv(3, { name: 'before' }).apply(input) as Sym;
    const ln = L.layerNormalization({ name: 'my_norm' }).apply(a) as Sym;
    const out = conv(2, { name: 'after' }).apply(ln) as Sym;
    const model = tf.model({ inputs: input, outputs: out });

    const err = findUnsupportedLayer(model);
    expect(err).toBeInstanceOf(OnnxUnsupportedError);
    expect(err!.layerName).toBe('my_norm');
    expect(err!.className).toBe('LayerNormalization');
    expect(err!.message).toContain('"my_norm" (LayerNormalization)');
    expect(() => compileGradientGraph(model, l2('after'))).toThrow(OnnxUnsupportedError);

    // A target before the unsupported layer compiles: only the path to it is compiled.
    expect(findUnsupportedLayer(model, ['before'])).toBeUndefined();
    expect(compileGradientGraph(model, l2('before')).layers).toEqual(['before']);

    const engine = new OnnxEngine(model, { threads: 1 });
    try {
      await expect(engine.gradient(randomBatch(1, 4, 4, 2, 1), { kind: 'filter', layer: 'after', filters: [0] }, 'rms')).rejects.toThrow(/my_norm/);
    } finally {
      engine.dispose();
    }
  });

  it('device cuda without the CUDA provider says how to install it', () => {
    const model = tinyModel((x) => conv(2, { name: 'c' }).apply(x) as Sym);
    if (cudaProviderInstalled()) return; // a CUDA machine: nothing to check here
    expect(() => new OnnxEngine(model, { device: 'cuda' })).toThrow(OnnxUnavailableError);
    expect(() => new OnnxEngine(model, { device: 'cuda' })).toThrow(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
  });

  it('an unsupported setting names the setting', () => {
    const model = tinyModel((x) => conv(3, { activation: 'hardSigmoid' as 'relu', name: 'hs' }).apply(x) as Sym);
    const err = findUnsupportedLayer(model);
    expect(err?.layerName).toBe('hs');
    expect(err?.message).toMatch(/activation "hardSigmoid"/);
  });

  afterAll(() => {
    if (process.env.ONNX_PARITY_REPORT) process.stdout.write(`\n${report.join('\n')}\n`);
  });
});
