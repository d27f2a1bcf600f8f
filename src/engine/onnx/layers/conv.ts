/**
 * Linear layers: the convolutions and Dense (on images a Dense acts on the channel axis, a 1x1
 * convolution). Weights are read only when emitting, so checking a model stays cheap.
 */
import { emitConv, emitPickedConv, type ConvSpec } from '../ops.js';
import { OnnxUnsupportedError } from '../errors.js';
import { activationName, emitActivation } from './activation.js';
import { channelsLast, define, pair, padding, rank4, weightsOf, type LayerCompiler, type LayerInput, type WeightData } from './common.js';

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

export const conv2d: LayerCompiler = {
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

export const depthwiseConv2d = define<ConvParsed>(
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

export const separableConv2d = define<{ specs: () => { depthwise: ConvSpec; pointwise: ConvSpec }; act: string }>(
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

export const conv2dTranspose = define<{
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

export const dense = define<{ act: string; rank: number }>(
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
