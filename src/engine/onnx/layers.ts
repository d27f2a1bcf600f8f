/**
 * Per-layer compilers: each tfjs-layers class maps to ONNX nodes for its forward pass and a
 * `backward` that emits its vector-Jacobian product (the gradient with respect to its inputs, given
 * the gradient of its output). Rank-4 tensors live in NCHW inside the graph (what onnxruntime's Conv
 * and pooling kernels take); other ranks keep the Keras order.
 *
 * Tie-breaking follows TensorFlow / tfjs-cpu: ReLU-like masks use `x > 0`, max-pool routes the
 * gradient to the first maximum of a window (onnxruntime's MaxPool indices), global max pooling to
 * every element equal to the maximum (tfjs' Max gradient).
 */
import type { tf } from '../../tf.js';
import { OnnxUnsupportedError } from './errors.js';
import { emitConv, emitPickedConv, f, Ops, SLICE_END, stridedConvBackward, type ConvSpec } from './ops.js';

export type Shape = (number | null)[];

/** A tensor in the graph: its ONNX name and its Keras rank (batch included); rank 4 is stored NCHW. */
export interface Value {
  name: string;
  rank: number;
}

export type Layer = tf.layers.Layer;
type Cfg = Record<string, unknown>;

export interface LayerInput {
  layer: Layer;
  cfg: Cfg;
  /** Keras shapes (batch first, NHWC) of the inputs and of the output. */
  inShapes: Shape[];
  outShape: Shape;
}

export interface EmitContext extends LayerInput {
  g: Ops;
  inputs: Value[];
}

export interface Emission {
  output: Value;
  /** Emits the input gradients (undefined for an input that gets none) given the output gradient. */
  backward: (gy: string) => (string | undefined)[];
}

export interface LayerCompiler {
  /** Throws OnnxUnsupportedError when the layer's settings are outside what the compiler handles. */
  check(input: LayerInput): void;
  emit(ctx: EmitContext): Emission;
  /**
   * Only channel filters[n] of image n ([N, 1, H, W] output), for a batch of exactly `batch` images:
   * what a filter objective on this layer needs. Undefined when the layer cannot do it cheaper.
   */
  emitPicked?(ctx: EmitContext, filters: string, batch: number): Emission | undefined;
}

function define<P>(parse: (input: LayerInput, fail: (detail: string) => never) => P, emit: (ctx: EmitContext, p: P) => Emission): LayerCompiler {
  const run = (input: LayerInput) =>
    parse(input, (detail) => {
      throw new OnnxUnsupportedError(input.layer.name, input.layer.getClassName(), detail);
    });
  return { check: (input) => void run(input), emit: (ctx) => emit(ctx, run(ctx)) };
}

// ---------------------------------------------------------------------------------------------
// Config and weight helpers

function pair(value: unknown, name: string, fail: (d: string) => never): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return [value[0], value[1]];
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number') return [value[0], value[0]];
  return fail(`unsupported ${name} ${JSON.stringify(value)}`);
}

function channelsLast(cfg: Cfg, fail: (d: string) => never): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') fail(`dataFormat ${String(cfg.dataFormat)} (only channelsLast)`);
}

function padding(cfg: Cfg, fail: (d: string) => never): 'same' | 'valid' {
  const p = cfg.padding ?? 'valid';
  if (p !== 'same' && p !== 'valid') return fail(`padding ${String(p)}`);
  return p;
}

function rank4(input: LayerInput, fail: (d: string) => never): void {
  for (const s of input.inShapes) if (s.length !== 4) fail(`input of rank ${s.length} (expects images [batch, height, width, channels])`);
}

function staticDim(d: number | null, what: string, fail: (d: string) => never): number {
  if (d === null || d === undefined) return fail(`${what} is not known`);
  return d;
}

interface WeightData {
  data: Float32Array;
  shape: number[];
}

function weightsOf(layer: Layer): WeightData[] {
  return layer.getWeights().map((t) => ({ data: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape.slice() }));
}

/** Keras axis of a rank-`rank` tensor to the axis of its stored layout (NCHW for rank 4). */
export function internalAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return rank === 4 ? [0, 2, 3, 1][a]! : a;
}

/** NHWC <-> NCHW moves for rank-4 values; identity otherwise. */
const TO_KERAS = [0, 2, 3, 1];
const FROM_KERAS = [0, 3, 1, 2];
function toKeras(g: Ops, v: Value): string {
  return v.rank === 4 ? g.transpose(v.name, TO_KERAS) : v.name;
}
function fromKeras(g: Ops, name: string, rank: number): string {
  return rank === 4 ? g.transpose(name, FROM_KERAS) : name;
}

/** tfjs [kh, kw, cin, cout] conv kernel to ONNX [cout, cin, kh, kw]. */
function convKernel(k: WeightData): Float32Array {
  const [kh, kw, cin, cout] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++) out[((o * cin + c) * kh + i) * kw + j] = k.data[((i * kw + j) * cin + c) * cout + o]!;
  return out;
}

/** tfjs depthwise kernel [kh, kw, cin, mult] to ONNX grouped [cin*mult, 1, kh, kw]. */
function depthwiseKernel(k: WeightData): Float32Array {
  const [kh, kw, cin, mult] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++) out[((c * mult + m) * kh + i) * kw + j] = k.data[((i * kw + j) * cin + c) * mult + m]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Activations

export const ACTIVATIONS = Object.freeze(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'softmax', 'swish']);
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

function activationName(cfg: Cfg, fail: (d: string) => never): string {
  const a = cfg.activation ?? 'linear';
  if (typeof a !== 'string' || !ACTIVATIONS.includes(a)) return fail(`activation ${JSON.stringify(a)} (supported: ${ACTIVATIONS.join(', ')})`);
  return a;
}

interface ActivationNode {
  y: string;
  backward: (gy: string) => string;
}

/** Applies a named activation along the stored layout; softmax acts on the Keras last axis. */
export function emitActivation(g: Ops, act: string, z: string, rank: number, hint: string): ActivationNode {
  const zero = g.scalar(0);
  const one = g.scalar(1);
  switch (act) {
    case 'linear':
      return { y: z, backward: (gy) => gy };
    case 'relu': {
      const y = g.op('Relu', [z], {}, hint);
      // y > 0 exactly where z > 0 (tfjs: dy * step(x)); using y lets onnxruntime fuse Conv+Relu.
      return { y, backward: (gy) => g.maskWhere(g.op('Greater', [y, zero]), gy) };
    }
    case 'relu6': {
      const y = g.op('Clip', [z, zero, g.scalar(6)], {}, hint);
      return { y, backward: (gy) => g.maskWhere(g.op('And', [g.op('Greater', [y, zero]), g.op('Less', [y, g.scalar(6)])]), gy) };
    }
    case 'sigmoid': {
      const y = g.op('Sigmoid', [z], {}, hint);
      return { y, backward: (gy) => g.op('Mul', [gy, g.op('Mul', [y, g.op('Sub', [one, y])])]) };
    }
    case 'tanh': {
      const y = g.op('Tanh', [z], {}, hint);
      return { y, backward: (gy) => g.op('Mul', [gy, g.op('Sub', [one, g.op('Mul', [y, y])])]) };
    }
    case 'elu': {
      const y = g.op('Elu', [z], { alpha: f(1) }, hint);
      return { y, backward: (gy) => g.op('Where', [g.op('GreaterOrEqual', [y, zero]), gy, g.op('Mul', [gy, g.op('Add', [y, one])])]) };
    }
    case 'selu': {
      const y = g.op('Selu', [z], { alpha: f(SELU_ALPHA), gamma: f(SELU_SCALE) }, hint);
      return {
        y,
        backward: (gy) =>
          g.op('Where', [g.op('Greater', [z, zero]), g.mulScalar(gy, SELU_SCALE), g.op('Mul', [g.mulScalar(gy, SELU_SCALE * SELU_ALPHA), g.op('Exp', [z])])]),
      };
    }
    case 'softplus': {
      const y = g.op('Softplus', [z], {}, hint);
      return { y, backward: (gy) => g.op('Mul', [gy, g.op('Sigmoid', [z])]) };
    }
    case 'softsign': {
      const y = g.op('Softsign', [z], {}, hint);
      return {
        y,
        backward: (gy) => {
          const d = g.op('Add', [one, g.op('Abs', [z])]);
          return g.op('Div', [gy, g.op('Mul', [d, d])]);
        },
      };
    }
    case 'softmax':
      return emitSoftmax(g, z, rank === 4 ? 1 : rank - 1, hint);
    case 'swish': {
      const s = g.op('Sigmoid', [z]);
      const y = g.op('Mul', [z, s], {}, hint);
      return {
        y,
        backward: (gy) => {
          // d/dz z*s(z) = s + z*s*(1-s)
          const d = g.op('Add', [s, g.op('Mul', [y, g.op('Sub', [one, s])])]);
          return g.op('Mul', [gy, d]);
        },
      };
    }
    default:
      throw new Error(`unhandled activation ${act}`);
  }
}

function emitSoftmax(g: Ops, z: string, axis: number, hint: string): ActivationNode {
  const y = g.op('Softmax', [z], { axis }, hint);
  return {
    y,
    backward: (gy) => {
      const dyy = g.op('Mul', [gy, y]);
      const s = g.op('ReduceSum', [dyy, g.ints([axis])], { keepdims: 1 });
      return g.op('Sub', [dyy, g.op('Mul', [s, y])]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Layers

const identity = define(
  () => undefined,
  (ctx) => ({ output: ctx.inputs[0]!, backward: (gy) => [gy] }),
);

interface ConvParsed {
  /** Weights are read only when emitting, so checking a model stays cheap. */
  spec: () => ConvSpec;
  act: string;
}

/** The settings every convolution layer shares, checked in one place. */
export function convSettings(input: LayerInput, fail: (detail: string) => never) {
  const { cfg } = input;
  rank4(input, fail);
  channelsLast(cfg, fail);
  return {
    act: activationName(cfg, fail),
    kernel: pair(cfg.kernelSize, 'kernelSize', fail),
    strides: pair(cfg.strides ?? 1, 'strides', fail),
    dilations: pair(cfg.dilationRate ?? 1, 'dilationRate', fail),
    pad: padding(cfg, fail),
  };
}

function parseConv2d(input: LayerInput, fail: (detail: string) => never): ConvParsed {
  const { layer } = input;
  const { act, kernel, strides, dilations, pad } = convSettings(input, fail);
  if ((strides[0] > 1 || strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1)) fail('strides and dilation together');
  return {
    act,
    spec: (): ConvSpec => {
      const [k, b] = weightsOf(layer);
      const cin = k!.shape[2]!;
      const cout = k!.shape[3]!;
      return { weights: convKernel(k!), outChannels: cout, inChannelsPerGroup: cin, kernel, group: 1, strides, dilations, padding: pad, bias: b?.data };
    },
  };
}

const conv2d: LayerCompiler = {
  ...define(parseConv2d, ({ g, inputs, layer }, { spec: lazy, act }) => {
    const spec = lazy();
    const conv = emitConv(g, inputs[0]!.name, spec, layer.name);
    const a = emitActivation(g, act, conv.z, 4, `${layer.name}_act`);
    return { output: { name: a.y, rank: 4 }, backward: (gy) => [conv.backward(a.backward(gy))] };
  }),
  emitPicked(ctx, filters, batch) {
    const { spec: lazy, act } = parseConv2d(ctx, (detail) => {
      throw new OnnxUnsupportedError(ctx.layer.name, ctx.layer.getClassName(), detail);
    });
    if (act === 'softmax') return undefined; // mixes channels: needs them all
    const conv = emitPickedConv(ctx.g, ctx.inputs[0]!.name, lazy(), filters, batch, ctx.layer.name);
    const a = emitActivation(ctx.g, act, conv.z, 4, `${ctx.layer.name}_act`);
    return { output: { name: a.y, rank: 4 }, backward: (gy) => [conv.backward(a.backward(gy))] };
  },
};

const depthwiseConv2d = define<ConvParsed>(
  (input, fail) => {
    const { layer } = input;
    const { act, kernel, strides, dilations, pad } = convSettings(input, fail);
    return {
      act,
      spec: (): ConvSpec => {
        const [k, b] = weightsOf(layer);
        const cin = k!.shape[2]!;
        const mult = k!.shape[3]!;
        return { weights: depthwiseKernel(k!), outChannels: cin * mult, inChannelsPerGroup: 1, kernel, group: cin, strides, dilations, padding: pad, bias: b?.data };
      },
    };
  },
  ({ g, inputs, layer }, { spec: lazy, act }) => {
    const spec = lazy();
    const conv = emitConv(g, inputs[0]!.name, spec, layer.name);
    const a = emitActivation(g, act, conv.z, 4, `${layer.name}_act`);
    return { output: { name: a.y, rank: 4 }, backward: (gy) => [conv.backward(a.backward(gy))] };
  },
);

const separableConv2d = define<{ specs: () => { depthwise: ConvSpec; pointwise: ConvSpec }; act: string }>(
  (input, fail) => {
    const { layer } = input;
    const { act, kernel, strides, dilations, pad } = convSettings(input, fail);
    return {
      act,
      specs: () => {
        const [dk, pk, b] = weightsOf(layer);
        const cin = dk!.shape[2]!;
        const mult = dk!.shape[3]!;
        const pointwise: ConvSpec = {
          weights: convKernel(pk!),
          outChannels: pk!.shape[3]!,
          inChannelsPerGroup: cin * mult,
          kernel: [1, 1],
          group: 1,
          strides: [1, 1],
          dilations: [1, 1],
          padding: 'valid',
          bias: b?.data,
        };
        const depthwise: ConvSpec = { weights: depthwiseKernel(dk!), outChannels: cin * mult, inChannelsPerGroup: 1, kernel, group: cin, strides, dilations, padding: pad };
        return { depthwise, pointwise };
      },
    };
  },
  ({ g, inputs, layer }, { specs, act }) => {
    const { depthwise, pointwise } = specs();
    const dw = emitConv(g, inputs[0]!.name, depthwise, `${layer.name}_dw`);
    const pw = emitConv(g, dw.z, pointwise, `${layer.name}_pw`);
    const a = emitActivation(g, act, pw.z, 4, `${layer.name}_act`);
    return { output: { name: a.y, rank: 4 }, backward: (gy) => [dw.backward(pw.backward(a.backward(gy)))] };
  },
);

const conv2dTranspose = define<{
  kernel: [number, number];
  strides: [number, number];
  pads: number[];
  outputPadding: number[];
  act: string;
}>(
  (input, fail) => {
    const { cfg, layer } = input;
    rank4(input, fail);
    channelsLast(cfg, fail);
    const act = activationName(cfg, fail);
    const kernel = pair(cfg.kernelSize, 'kernelSize', fail);
    const strides = pair(cfg.strides ?? 1, 'strides', fail);
    const pad = padding(cfg, fail);
    if (layer.getWeights().length === 0) fail('no weights');
    // tfjs' output size: in*s ('same') or in*s + max(k - s, 0) ('valid'); the transposed conv of
    // TF's 'same' forward conv crops floor(P/2) before and the rest after, P = max(k - s, 0).
    const before: number[] = [];
    const after: number[] = [];
    const outPad: number[] = [];
    for (let d = 0; d < 2; d++) {
      const P = pad === 'same' ? Math.max(kernel[d]! - strides[d]!, 0) : 0;
      before.push(Math.floor(P / 2));
      after.push(P - Math.floor(P / 2));
      outPad.push(Math.max(strides[d]! - kernel[d]!, 0));
    }
    return { kernel, strides, pads: [...before, ...after], outputPadding: outPad, act };
  },
  ({ g, inputs, layer }, p) => {
    const [k, b] = weightsOf(layer);
    // tfjs kernel [kh, kw, cout, cin]; ONNX ConvTranspose wants [cin, cout, kh, kw].
    const [kh, kw, cout, cin] = k!.shape as [number, number, number, number];
    const data = new Float32Array(k!.data.length);
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++)
        for (let o = 0; o < cout; o++)
          for (let c = 0; c < cin; c++) data[((c * cout + o) * kh + i) * kw + j] = k!.data[((i * kw + j) * cout + o) * cin + c]!;
    const W = g.floats(`${layer.name}_W`, data, [cin, cout, kh, kw]);
    const ins = [inputs[0]!.name, W];
    if (b) ins.push(g.floats(`${layer.name}_B`, b.data, [cout]));
    const attrs: Record<string, number[]> = { kernel_shape: p.kernel, strides: p.strides, pads: p.pads };
    if (p.outputPadding.some((v) => v > 0)) attrs.output_padding = p.outputPadding;
    const z = g.op('ConvTranspose', ins, attrs, layer.name);
    const a = emitActivation(g, p.act, z, 4, `${layer.name}_act`);
    return {
      output: { name: a.y, rank: 4 },
      // The adjoint of a transposed convolution is the convolution with the same weights, strides and pads.
      backward: (gy) => [g.op('Conv', [a.backward(gy), W], { kernel_shape: p.kernel, strides: p.strides, pads: p.pads }, `${layer.name}_grad`)],
    };
  },
);

const dense = define<{ act: string; rank: number }>(
  (input, fail) => {
    const act = activationName(input.cfg, fail);
    const rank = input.inShapes[0]!.length;
    if (rank < 2) fail(`input of rank ${rank}`);
    return { act, rank };
  },
  ({ g, inputs, layer }, { act, rank }) => {
    const [kernel, b] = weightsOf(layer);
    if (!kernel) throw new Error(`Dense layer ${layer.name} has no weights`);
    const bias = b?.data;
    const [cin, units] = kernel.shape as [number, number];
    const x = inputs[0]!.name;
    if (rank === 4) {
      // On images a Dense acts on the channel axis: a 1x1 convolution.
      const W = new Float32Array(cin * units);
      for (let c = 0; c < cin; c++) for (let u = 0; u < units; u++) W[u * cin + c] = kernel.data[c * units + u]!;
      const conv = emitConv(
        g,
        x,
        { weights: W, outChannels: units, inChannelsPerGroup: cin, kernel: [1, 1], group: 1, strides: [1, 1], dilations: [1, 1], padding: 'valid', bias },
        layer.name,
      );
      const a = emitActivation(g, act, conv.z, 4, `${layer.name}_act`);
      return { output: { name: a.y, rank: 4 }, backward: (gy) => [conv.backward(a.backward(gy))] };
    }
    const K = g.floats(`${layer.name}_W`, kernel.data, [cin, units]);
    let z = g.op('MatMul', [x, K], {}, layer.name);
    if (bias) z = g.op('Add', [z, g.floats(`${layer.name}_B`, bias, [units])]);
    const a = emitActivation(g, act, z, rank, `${layer.name}_act`);
    let KT: string | undefined;
    return {
      output: { name: a.y, rank },
      backward: (gy) => {
        if (!KT) {
          const t = new Float32Array(cin * units);
          for (let c = 0; c < cin; c++) for (let u = 0; u < units; u++) t[u * cin + c] = kernel.data[c * units + u]!;
          KT = g.floats(`${layer.name}_WT`, t, [units, cin]);
        }
        return [g.op('MatMul', [a.backward(gy), KT], {}, `${layer.name}_grad`)];
      },
    };
  },
);

const batchNormalization = define<{ cfg: Cfg; rank: number }>(
  (input, fail) => {
    const rank = input.inShapes[0]!.length;
    const axis = input.cfg.axis ?? -1;
    if (typeof axis !== 'number' || (axis !== -1 && axis !== rank - 1)) fail(`axis ${JSON.stringify(axis)} (only the last axis)`);
    return { cfg: input.cfg, rank };
  },
  ({ g, inputs, layer }, { cfg, rank }) => {
    const eps = typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3;
    const weights = weightsOf(layer);
    let i = 0;
    const gamma = cfg.scale === false ? undefined : weights[i++]!.data;
    const beta = cfg.center === false ? undefined : weights[i++]!.data;
    const mean = weights[i++]!.data;
    const variance = weights[i++]!.data;
    const C = mean.length;
    const scale = new Float32Array(C);
    const shift = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const s = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + eps);
      scale[c] = s;
      shift[c] = (beta ? beta[c]! : 0) - mean[c]! * s;
    }
    // Inference mode: y = x * scale + shift per channel; dL/dx = dL/dy * scale.
    const dims = rank === 4 ? [scale.length, 1, 1] : [scale.length];
    const S = g.floats(`${layer.name}_scale`, scale, dims);
    const B = g.floats(`${layer.name}_shift`, shift, dims);
    const y = g.op('Add', [g.op('Mul', [inputs[0]!.name, S]), B], {}, layer.name);
    return { output: { name: y, rank }, backward: (gy) => [g.op('Mul', [gy, S], {}, `${layer.name}_grad`)] };
  },
);

interface PoolParsed {
  kernel: [number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}

function parsePool(input: LayerInput, fail: (d: string) => never): PoolParsed {
  rank4(input, fail);
  channelsLast(input.cfg, fail);
  const kernel = pair(input.cfg.poolSize ?? 2, 'poolSize', fail);
  const strides = pair(input.cfg.strides ?? kernel, 'strides', fail);
  return { kernel, strides, pad: padding(input.cfg, fail) };
}

function poolPadAttrs(p: PoolParsed): Record<string, number[] | string> {
  return p.pad === 'valid' ? { pads: [0, 0, 0, 0] } : { auto_pad: 'SAME_UPPER' };
}

const maxPooling2d = define<PoolParsed>(parsePool, ({ g, inputs, layer }, p) => {
  const x = inputs[0]!.name;
  const attrs = { kernel_shape: p.kernel, strides: p.strides, ...poolPadAttrs(p) };
  // Indices are flat over N*C*H*W and mark the first maximum of each window, like TF and tfjs-cpu.
  const [y, idx] = g.node('MaxPool', [x], attrs, 2, layer.name);
  return {
    output: { name: y!, rank: 4 },
    backward: (gy) => {
      const disjoint = p.strides[0] >= p.kernel[0] && p.strides[1] >= p.kernel[1];
      if (disjoint && p.pad === 'valid') {
        return [g.op('MaxUnpool', [gy, idx!, g.shape(x)], { kernel_shape: p.kernel, strides: p.strides }, `${layer.name}_grad`)];
      }
      // Overlapping windows can pick the same element twice: scatter-add into zeros.
      const flatShape = g.ints([-1]);
      const zeros = g.op('ConstantOfShape', [g.op('Reshape', [g.op('Size', [x]), flatShape])]);
      const scattered = g.op('ScatterElements', [zeros, g.op('Reshape', [idx!, flatShape]), g.op('Reshape', [gy, flatShape])], {
        axis: 0,
        reduction: 'add',
      });
      return [g.op('Reshape', [scattered, g.shape(x)], {}, `${layer.name}_grad`)];
    },
  };
});

const averagePooling2d = define<PoolParsed & { channels: number }>(
  (input, fail) => ({ ...parsePool(input, fail), channels: staticDim(input.inShapes[0]![3]!, 'channel count', fail) }),
  ({ g, inputs, layer }, p) => {
    const x = inputs[0]!.name;
    const [kh, kw] = p.kernel;
    // TF averages over the valid (unpadded) elements only.
    const y = g.op('AveragePool', [x], { kernel_shape: p.kernel, strides: p.strides, count_include_pad: 0, ...poolPadAttrs(p) }, layer.name);
    return {
      output: { name: y, rank: 4 },
      backward: (gy) => {
        let scaled: string;
        if (p.pad === 'valid') {
          scaled = g.mulScalar(gy, 1 / (kh * kw));
        } else {
          // Window sizes: k*k times the padded average of ones.
          const ones = g.op('Expand', [g.scalar(1), g.op('Concat', [g.ints([1, 1]), g.shape(x, 2, 4)], { axis: 0 })]);
          const frac = g.op('AveragePool', [ones], { kernel_shape: p.kernel, strides: p.strides, count_include_pad: 1, auto_pad: 'SAME_UPPER' });
          scaled = g.op('Div', [gy, g.mulScalar(frac, kh * kw)]);
        }
        // Spread each window's share back: a depthwise transposed convolution with a ones kernel.
        const W = g.floats(`${layer.name}_ones`, new Float32Array(p.channels * kh * kw).fill(1), [p.channels, 1, kh, kw]);
        const spec = { kernel: p.kernel, strides: p.strides, dilations: [1, 1] as [number, number], group: p.channels, padding: p.pad };
        return [stridedConvBackward(g, scaled, x, W, spec, layer.name)];
      },
    };
  },
);

const upSampling2d = define<{ size: [number, number]; bilinear: boolean; channels: number }>(
  (input, fail) => {
    rank4(input, fail);
    channelsLast(input.cfg, fail);
    const interp = input.cfg.interpolation ?? 'nearest';
    if (interp !== 'nearest' && interp !== 'bilinear') fail(`interpolation ${String(interp)}`);
    const size = pair(input.cfg.size ?? 2, 'size', fail);
    const channels = interp === 'bilinear' ? staticDim(input.inShapes[0]![3]!, 'channel count', fail) : 0;
    return { size, bilinear: interp === 'bilinear', channels };
  },
  ({ g, inputs, layer }, { size, bilinear, channels }) => {
    const [sh, sw] = size;
    const x = inputs[0]!.name;
    const scales = g.floats('scales', [1, 1, sh, sw], [4]);
    // tfjs resizes without align-corners or half-pixel centres: source = destination / scale.
    const attrs: Record<string, string> = bilinear
      ? { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }
      : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    const y = g.op('Resize', [x, '', scales], attrs, layer.name);
    return {
      output: { name: y, rank: 4 },
      backward: (gy) => {
        if (!bilinear) {
          // Each input pixel was copied to an sh x sw block: sum the block (average-pool times its size).
          const avg = g.op('AveragePool', [gy], { kernel_shape: [sh, sw], strides: [sh, sw] });
          return [g.mulScalar(avg, sh * sw)];
        }
        return [bilinearBackward(g, gy, size, channels, layer.name)];
      },
    };
  },
);

/**
 * Adjoint of integer-factor bilinear upsampling (asymmetric, clamped at the far edge). Output o = i*s + r
 * takes (1 - r/s) of x[i] and r/s of x[min(i+1, n-1)]. So gx'[j] = sum_t w[t] gy[j*s - s + t], t in
 * [0, 2s), w[t] = t/s below s and (2s - t)/s above: a stride-s depthwise convolution with pads s giving
 * n + 1 values; the last (the clamped neighbour) folds into the one before it.
 */
function bilinearBackward(g: Ops, gy: string, size: [number, number], channels: number, hint: string): string {
  const [sh, sw] = size;
  const weights1d = (s: number) => Array.from({ length: 2 * s }, (_, t) => (t < s ? t / s : (2 * s - t) / s));
  const wh = weights1d(sh);
  const ww = weights1d(sw);
  const kernel = new Float32Array(channels * 4 * sh * sw);
  for (let c = 0; c < channels; c++)
    for (let i = 0; i < 2 * sh; i++) for (let j = 0; j < 2 * sw; j++) kernel[(c * 2 * sh + i) * 2 * sw + j] = wh[i]! * ww[j]!;
  const W = g.floats(`${hint}_bilinearT`, kernel, [channels, 1, 2 * sh, 2 * sw]);
  let r = g.op('Conv', [gy, W], { kernel_shape: [2 * sh, 2 * sw], strides: [sh, sw], pads: [sh, sw, sh, sw], group: channels });
  for (const axis of [2, 3]) {
    const ax = g.ints([axis]);
    const head = g.op('Slice', [r, g.ints([0]), g.ints([-2]), ax]);
    const last2 = g.op('Slice', [r, g.ints([-2]), g.ints([-1]), ax]);
    const last = g.op('Slice', [r, g.ints([-1]), g.ints([SLICE_END]), ax]);
    r = g.op('Concat', [head, g.op('Add', [last2, last])], { axis });
  }
  return r;
}

function parseCropPad(key: 'padding' | 'cropping') {
  return (input: LayerInput, fail: (d: string) => never): [number, number, number, number] => {
    rank4(input, fail);
    channelsLast(input.cfg, fail);
    const v = input.cfg[key];
    let rows: [number, number];
    let cols: [number, number];
    if (typeof v === 'number') {
      rows = [v, v];
      cols = [v, v];
    } else if (Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number')) {
      rows = [v[0], v[0]];
      cols = [v[1], v[1]];
    } else if (Array.isArray(v) && v.length === 2 && v.every((e) => Array.isArray(e) && e.length === 2)) {
      rows = v[0] as [number, number];
      cols = v[1] as [number, number];
    } else {
      return fail(`${key} ${JSON.stringify(v)}`);
    }
    return [rows[0], cols[0], rows[1], cols[1]]; // top, left, bottom, right
  };
}

function padNode(g: Ops, x: string, [t, l, b, r]: number[], hint: string): string {
  return g.op('Pad', [x, g.ints([0, 0, t!, l!, 0, 0, b!, r!])], {}, hint);
}
function cropNode(g: Ops, x: string, [t, l, b, r]: number[], hint: string): string {
  return g.op('Slice', [x, g.ints([t!, l!]), g.ints([b ? -b : SLICE_END, r ? -r : SLICE_END]), g.ints([2, 3])], {}, hint);
}

const zeroPadding2d = define(parseCropPad('padding'), ({ g, inputs, layer }, p) => ({
  output: { name: padNode(g, inputs[0]!.name, p, layer.name), rank: 4 },
  backward: (gy) => [cropNode(g, gy, p, `${layer.name}_grad`)],
}));

const cropping2d = define(parseCropPad('cropping'), ({ g, inputs, layer }, p) => ({
  output: { name: cropNode(g, inputs[0]!.name, p, layer.name), rank: 4 },
  backward: (gy) => [padNode(g, gy, p, `${layer.name}_grad`)],
}));

const concatenate = define<{ axis: number; rank: number; sizes: (number | null)[] }>(
  (input, fail) => {
    const axisCfg = input.cfg.axis ?? -1;
    if (typeof axisCfg !== 'number') return fail(`axis ${JSON.stringify(axisCfg)}`);
    const rank = input.outShape.length;
    if (input.inShapes.some((s) => s.length !== rank)) fail('inputs of different ranks');
    const a = axisCfg < 0 ? axisCfg + rank : axisCfg;
    if (a <= 0 || a >= rank) fail(`axis ${axisCfg}`);
    return { axis: internalAxis(a, rank), rank, sizes: input.inShapes.map((s) => s[a] ?? null) };
  },
  ({ g, inputs, layer }, { axis, rank, sizes }) => {
    const y = g.op('Concat', inputs.map((v) => v.name), { axis }, layer.name);
    return {
      output: { name: y, rank },
      backward: (gy) => {
        const split = sizes.every((s) => s !== null)
          ? g.ints(sizes as number[])
          : g.op('Concat', inputs.map((v) => g.shape(v.name, axis, axis + 1)), { axis: 0 });
        return g.node('Split', [gy, split], { axis }, inputs.length, `${layer.name}_grad`);
      },
    };
  },
);

function sameShapes(input: LayerInput, fail: (d: string) => never): number {
  const first = JSON.stringify(input.inShapes[0]);
  if (input.inShapes.some((s) => JSON.stringify(s) !== first)) fail('inputs of different shapes (broadcasting merge)');
  return input.outShape.length;
}

const add = define(sameShapes, ({ g, inputs, layer }, rank) => ({
  output: { name: g.op(inputs.length === 2 ? 'Add' : 'Sum', inputs.map((v) => v.name), {}, layer.name), rank },
  backward: (gy) => inputs.map(() => gy),
}));

const average = define(sameShapes, ({ g, inputs, layer }, rank) => {
  const n = inputs.length;
  const y = g.mulScalar(g.sum(inputs.map((v) => v.name)), 1 / n);
  return { output: { name: y, rank }, backward: (gy) => inputs.map(() => g.mulScalar(gy, 1 / n)) };
});

const multiply = define(sameShapes, ({ g, inputs, layer }, rank) => {
  const names = inputs.map((v) => v.name);
  let y = names[0]!;
  for (const v of names.slice(1)) y = g.op('Mul', [y, v], {}, layer.name);
  return {
    output: { name: y, rank },
    backward: (gy) =>
      names.map((_, i) => {
        let r = gy;
        names.forEach((v, j) => {
          if (j !== i) r = g.op('Mul', [r, v]);
        });
        return r;
      }),
  };
});

const flatten = define(
  (input, fail) => {
    if (input.cfg.dataFormat !== undefined && input.cfg.dataFormat !== 'channelsLast') fail(`dataFormat ${String(input.cfg.dataFormat)}`);
    return input.inShapes[0]!.length;
  },
  ({ g, inputs, layer }, rank) => {
    if (rank <= 2) return { output: inputs[0]!, backward: (gy) => [gy] };
    const xk = toKeras(g, inputs[0]!);
    const y = g.op('Reshape', [xk, g.ints([0, -1])], {}, layer.name);
    return {
      output: { name: y, rank: 2 },
      backward: (gy) => [fromKeras(g, g.op('Reshape', [gy, g.shape(xk)]), rank)],
    };
  },
);

const reshape = define(
  (input, fail) => {
    const target = input.cfg.targetShape;
    if (!Array.isArray(target)) return fail(`targetShape ${JSON.stringify(target)}`);
    return { target: target.map((d) => (d === null || d === undefined ? -1 : Number(d))), inRank: input.inShapes[0]!.length };
  },
  ({ g, inputs, layer }, { target, inRank }) => {
    const outRank = target.length + 1;
    const xk = toKeras(g, inputs[0]!);
    const yk = g.op('Reshape', [xk, g.ints([0, ...target])], {}, layer.name);
    return {
      output: { name: fromKeras(g, yk, outRank), rank: outRank },
      backward: (gy) => [fromKeras(g, g.op('Reshape', [toKeras(g, { name: gy, rank: outRank }), g.shape(xk)]), inRank)],
    };
  },
);

const permute = define(
  (input, fail) => {
    const dims = input.cfg.dims;
    const rank = input.inShapes[0]!.length;
    if (!Array.isArray(dims) || dims.length !== rank - 1) return fail(`dims ${JSON.stringify(dims)}`);
    return { perm: [0, ...dims.map(Number)], rank };
  },
  ({ g, inputs, layer }, { perm, rank }) => {
    // stored -> keras -> permuted keras -> stored, composed into one transpose.
    const toK = rank === 4 ? TO_KERAS : perm.map((_, i) => i);
    const fromK = rank === 4 ? FROM_KERAS : perm.map((_, i) => i);
    const total = fromK.map((i) => toK[perm[i]!]!);
    const inverse = new Array<number>(rank);
    total.forEach((p, i) => (inverse[p] = i));
    return {
      output: { name: g.op('Transpose', [inputs[0]!.name], { perm: total }, layer.name), rank },
      backward: (gy) => [g.transpose(gy, inverse)],
    };
  },
);

const globalAveragePooling2d = define(
  (input, fail) => {
    rank4(input, fail);
    channelsLast(input.cfg, fail);
    if (input.cfg.keepDims === true) fail('keepDims');
  },
  ({ g, inputs, layer }) => {
    const x = inputs[0]!.name;
    const y = g.op('ReduceMean', [x], { axes: [2, 3], keepdims: 0 }, layer.name);
    return {
      output: { name: y, rank: 2 },
      backward: (gy) => [g.op('Expand', [g.op('Mul', [g.unsqueeze(gy, [2, 3]), g.inverseCount(x, 2, 4)]), g.shape(x)], {}, `${layer.name}_grad`)],
    };
  },
);

const globalMaxPooling2d = define(
  (input, fail) => {
    rank4(input, fail);
    channelsLast(input.cfg, fail);
    if (input.cfg.keepDims === true) fail('keepDims');
  },
  ({ g, inputs, layer }) => {
    const x = inputs[0]!.name;
    const m = g.op('ReduceMax', [x], { axes: [2, 3], keepdims: 1 });
    const y = g.op('Squeeze', [m, g.ints([2, 3])], {}, layer.name);
    return {
      output: { name: y, rank: 2 },
      // tfjs' Max gradient reaches every element equal to the maximum.
      backward: (gy) => [g.maskWhere(g.op('Equal', [x, m]), g.op('Expand', [g.unsqueeze(gy, [2, 3]), g.shape(x)]))],
    };
  },
);

const activationLayer = define(
  (input, fail) => ({ act: activationName(input.cfg, fail), rank: input.inShapes[0]!.length }),
  ({ g, inputs, layer }, { act, rank }) => {
    const a = emitActivation(g, act, inputs[0]!.name, rank, layer.name);
    return { output: { name: a.y, rank }, backward: (gy) => [a.backward(gy)] };
  },
);

const reluLayer = define(
  (input, fail) => {
    const max = input.cfg.maxValue;
    if (max !== undefined && max !== null && typeof max !== 'number') fail(`maxValue ${JSON.stringify(max)}`);
    return { max: typeof max === 'number' ? max : undefined, rank: input.inShapes[0]!.length };
  },
  ({ g, inputs, layer }, { max, rank }) => {
    const zero = g.scalar(0);
    const r = g.op('Relu', [inputs[0]!.name], {}, max === undefined ? layer.name : `${layer.name}_relu`);
    if (max === undefined) return { output: { name: r, rank }, backward: (gy) => [g.maskWhere(g.op('Greater', [r, zero]), gy)] };
    // tfjs: clipByValue(relu(x), 0, max); its gradient passes where 0 <= relu(x) <= max, relu's where x > 0.
    const y = g.op('Clip', [r, zero, g.scalar(max)], {}, layer.name);
    return {
      output: { name: y, rank },
      backward: (gy) => [g.maskWhere(g.op('And', [g.op('Greater', [r, zero]), g.op('LessOrEqual', [r, g.scalar(max)])]), gy)],
    };
  },
);

const leakyRelu = define(
  (input) => ({ alpha: typeof input.cfg.alpha === 'number' ? input.cfg.alpha : 0.3, rank: input.inShapes[0]!.length }),
  ({ g, inputs, layer }, { alpha, rank }) => {
    const x = inputs[0]!.name;
    const y = g.op('LeakyRelu', [x], { alpha: f(alpha) }, layer.name);
    return {
      output: { name: y, rank },
      backward: (gy) => [g.op('Where', [g.op('Greater', [x, g.scalar(0)]), gy, g.mulScalar(gy, alpha)])],
    };
  },
);

const prelu = define(
  (input) => input.inShapes[0]!.length,
  ({ g, inputs, layer }, rank) => {
    const [alpha] = weightsOf(layer);
    if (!alpha) throw new Error(`PReLU layer ${layer.name} has no weights`);
    let data = alpha.data;
    let dims = alpha.shape;
    if (rank === 4) {
      // Keras [h, w, c] (shared axes of size 1) to NCHW-broadcastable [c, h, w].
      const [h, w, c] = dims as [number, number, number];
      data = new Float32Array(alpha.data.length);
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) data[(k * h + i) * w + j] = alpha.data[(i * w + j) * c + k]!;
      dims = [c, h, w];
    }
    const slope = g.floats(`${layer.name}_alpha`, data, dims);
    const x = inputs[0]!.name;
    const y = g.op('PRelu', [x, slope], {}, layer.name);
    return {
      output: { name: y, rank },
      backward: (gy) => [g.op('Where', [g.op('Greater', [x, g.scalar(0)]), gy, g.op('Mul', [gy, slope])])],
    };
  },
);

const eluLayer = define(
  (input, fail) => {
    if (typeof input.cfg.alpha === 'number' && input.cfg.alpha !== 1) fail(`alpha ${input.cfg.alpha}`);
    return input.inShapes[0]!.length;
  },
  ({ g, inputs, layer }, rank) => {
    const a = emitActivation(g, 'elu', inputs[0]!.name, rank, layer.name);
    return { output: { name: a.y, rank }, backward: (gy) => [a.backward(gy)] };
  },
);

const softmaxLayer = define(
  (input, fail) => {
    let axis = input.cfg.axis ?? -1;
    if (Array.isArray(axis) && axis.length === 1) axis = axis[0];
    if (typeof axis !== 'number') return fail(`axis ${JSON.stringify(axis)}`);
    const rank = input.inShapes[0]!.length;
    return { axis: internalAxis(axis, rank), rank };
  },
  ({ g, inputs, layer }, { axis, rank }) => {
    const a = emitSoftmax(g, inputs[0]!.name, axis, layer.name);
    return { output: { name: a.y, rank }, backward: (gy) => [a.backward(gy)] };
  },
);

const thresholdedRelu = define(
  (input) => ({ theta: typeof input.cfg.theta === 'number' ? input.cfg.theta : 1, rank: input.inShapes[0]!.length }),
  ({ g, inputs, layer }, { theta, rank }) => {
    const x = inputs[0]!.name;
    const mask = g.op('Greater', [x, g.scalar(theta)]);
    const y = g.maskWhere(mask, x);
    return { output: { name: y, rank }, backward: (gy) => [g.maskWhere(mask, gy)] };
  },
);

/** Compilers by tfjs-layers class name. */
export const LAYER_COMPILERS: Readonly<Record<string, LayerCompiler>> = Object.freeze({
  Conv2D: conv2d,
  Conv2DTranspose: conv2dTranspose,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Dense: dense,
  BatchNormalization: batchNormalization,
  MaxPooling2D: maxPooling2d,
  AveragePooling2D: averagePooling2d,
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  Concatenate: concatenate,
  Add: add,
  Average: average,
  Multiply: multiply,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  GlobalAveragePooling2D: globalAveragePooling2d,
  GlobalMaxPooling2D: globalMaxPooling2d,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  PReLU: prelu,
  ELU: eluLayer,
  Softmax: softmaxLayer,
  ThresholdedReLU: thresholdedRelu,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
});

export const SUPPORTED_LAYERS: readonly string[] = Object.freeze(['InputLayer', ...Object.keys(LAYER_COMPILERS)]);
