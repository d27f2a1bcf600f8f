/**
 * Graph-building helpers shared by the layer compilers: cached shape lookups, scalar arithmetic,
 * masks, and the two convolution primitives (forward, and the input gradient as a convolution with
 * pre-flipped weights or a transposed convolution followed by a crop).
 */
import { f, GraphBuilder } from './graph.js';

/** A large end index for Slice (clamped by the operator to the dimension). */
export const SLICE_END = Number.MAX_SAFE_INTEGER;

export class Ops extends GraphBuilder {
  private readonly shapes = new Map<string, string>();

  /** Shape of `x` (int64 [rank]), or dims [start, end) of it; cached per value. */
  shape(x: string, start?: number, end?: number): string {
    const key = `${x}|${start ?? ''}|${end ?? ''}`;
    let name = this.shapes.get(key);
    if (!name) {
      const attrs: Record<string, number> = {};
      if (start !== undefined) attrs.start = start;
      if (end !== undefined) attrs.end = end;
      name = this.op('Shape', [x], attrs, 'shape');
      this.shapes.set(key, name);
    }
    return name;
  }

  mulScalar(x: string, c: number): string {
    if (c === 1) return x;
    return this.op('Mul', [x, this.scalar(c)]);
  }

  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('Transpose', [x], { perm });
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.op('Unsqueeze', [x, this.ints(axes)]);
  }

  /** `gy` where `cond` holds, else 0. */
  maskWhere(cond: string, gy: string): string {
    return this.op('Where', [cond, gy, this.scalar(0)], {}, 'mask');
  }

  /** Sum of one or more values. */
  sum(values: string[]): string {
    if (values.length === 0) throw new Error('sum of nothing');
    if (values.length === 1) return values[0]!;
    if (values.length === 2) return this.op('Add', values);
    return this.op('Sum', values);
  }

  /** 1 / (product of dims [start, end) of `x`) as a float scalar tensor [1]. */
  inverseCount(x: string, start: number, end?: number): string {
    const dims = this.op('Cast', [this.shape(x, start, end)], { to: 1 });
    const count = this.op('ReduceProd', [dims], { keepdims: 1 });
    return this.op('Reciprocal', [count]);
  }
}

export interface ConvSpec {
  /** Weights in ONNX Conv layout [M, C/group, kh, kw]. */
  weights: Float32Array;
  outChannels: number;
  inChannelsPerGroup: number;
  kernel: [number, number];
  group: number;
  strides: [number, number];
  dilations: [number, number];
  padding: 'same' | 'valid';
  bias?: Float32Array;
}

/** TensorFlow's 'same' padding for stride 1: (k-1)*d in total, the odd one at the end. */
/** Pads of the stride-1 backward convolution: the forward pads swapped (full padding for 'valid'). */
export function backwardPads(spec: Pick<ConvSpec, 'dilations' | 'padding'>, kh: number, kw: number): number[] {
  const [dh, dw] = spec.dilations;
  if (spec.padding === 'valid') return [(kh - 1) * dh, (kw - 1) * dw, (kh - 1) * dh, (kw - 1) * dw];
  const [th, bh] = samePadsStride1(kh, dh);
  const [lw, rw] = samePadsStride1(kw, dw);
  return [bh, rw, th, lw];
}

function samePadsStride1(k: number, d: number): [number, number] {
  const total = (k - 1) * d;
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function isUnitStride(spec: { strides: [number, number] }): boolean {
  return spec.strides[0] === 1 && spec.strides[1] === 1;
}

/** Forward padding attributes: explicit for stride 1 or 'valid', SAME_UPPER (TF's rule) otherwise. */
export function forwardPadAttrs(spec: Pick<ConvSpec, 'padding' | 'strides' | 'kernel' | 'dilations'>): Record<string, number[] | string> {
  if (spec.padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (!isUnitStride(spec)) return { auto_pad: 'SAME_UPPER' };
  const [th, bh] = samePadsStride1(spec.kernel[0], spec.dilations[0]);
  const [lw, rw] = samePadsStride1(spec.kernel[1], spec.dilations[1]);
  return { pads: [th, lw, bh, rw] };
}

export interface ConvNode {
  /** The convolution's output (before any activation). */
  z: string;
  /** Input gradient from the output gradient; `x` is the forward input (for its size). */
  backward: (gz: string) => string;
}

/** A (grouped, strided, dilated) 2-D convolution in NCHW, and its input gradient. */
export function emitConv(g: Ops, x: string, spec: ConvSpec, hint: string): ConvNode {
  const [kh, kw] = spec.kernel;
  const M = spec.outChannels;
  const Cg = spec.inChannelsPerGroup;
  const W = g.floats(`${hint}_W`, spec.weights, [M, Cg, kh, kw]);
  const inputs = [x, W];
  if (spec.bias) inputs.push(g.floats(`${hint}_B`, spec.bias, [M]));
  const z = g.op(
    'Conv',
    inputs,
    { kernel_shape: [kh, kw], strides: spec.strides, dilations: spec.dilations, group: spec.group, ...forwardPadAttrs(spec) },
    hint,
  );
  let backwardWeights: string | undefined;
  const backward = (gz: string): string => {
    if (isUnitStride(spec)) {
      // dL/dx = conv(dL/dz, W rotated 180 degrees with in/out channels swapped per group): a plain
      // forward convolution, which onnxruntime runs much faster than ConvTranspose.
      backwardWeights ??= g.floats(`${hint}_Wflip`, flipForBackward(spec), [spec.group * Cg, M / spec.group, kh, kw]);
      const pads = backwardPads(spec, kh, kw);
      return g.op(
        'Conv',
        [gz, backwardWeights],
        { kernel_shape: [kh, kw], strides: [1, 1], dilations: spec.dilations, group: spec.group, pads },
        `${hint}_grad`,
      );
    }
    return stridedConvBackward(g, gz, x, W, spec, hint);
  };
  return { z, backward };
}

/**
 * Input gradient of a strided convolution: the transposed convolution without padding gives the
 * gradient over the whole padded input; pad its end by stride-1 zeros (rows no window reached) and
 * crop [pad_before, pad_before + in) where pad_before is TF's 'same' rule computed from the runtime sizes.
 */
export function stridedConvBackward(
  g: Ops,
  gz: string,
  x: string,
  W: string,
  spec: Pick<ConvSpec, 'kernel' | 'strides' | 'dilations' | 'group' | 'padding'>,
  hint: string,
): string {
  const [kh, kw] = spec.kernel;
  const [sh, sw] = spec.strides;
  const [dh, dw] = spec.dilations;
  const full = g.op(
    'ConvTranspose',
    [gz, W],
    { kernel_shape: [kh, kw], strides: spec.strides, dilations: spec.dilations, group: spec.group },
    `${hint}_gradT`,
  );
  const padded = g.op('Pad', [full, g.ints([0, 0, 0, 0, 0, 0, sh - 1, sw - 1])]);
  const inDims = g.shape(x, 2, 4);
  let starts: string;
  if (spec.padding === 'valid') {
    starts = g.ints([0, 0]);
  } else {
    const outDims = g.shape(gz, 2, 4);
    // Full length = (out - 1) * s + (k - 1) * d + 1; TF pads max(full - in, 0), floor half before.
    const fullLen = g.op('Add', [g.op('Mul', [outDims, g.ints([sh, sw])]), g.ints([(kh - 1) * dh + 1 - sh, (kw - 1) * dw + 1 - sw])]);
    const total = g.op('Max', [g.op('Sub', [fullLen, inDims]), g.ints([0, 0])]);
    starts = g.op('Div', [total, g.ints([2, 2])]);
  }
  const ends = g.op('Add', [starts, inDims]);
  return g.op('Slice', [padded, starts, ends, g.ints([2, 3])], {}, `${hint}_grad`);
}

/** Wb[gi*Cg + ci, mo, i, j] = W[gi*Mg + mo, ci, kh-1-i, kw-1-j]: the backward conv's weights. */
function flipForBackward(spec: ConvSpec): Float32Array {
  const [kh, kw] = spec.kernel;
  const G = spec.group;
  const Cg = spec.inChannelsPerGroup;
  const Mg = spec.outChannels / G;
  const W = spec.weights;
  const out = new Float32Array(W.length);
  for (let gi = 0; gi < G; gi++) {
    for (let mo = 0; mo < Mg; mo++) {
      for (let ci = 0; ci < Cg; ci++) {
        const src = ((gi * Mg + mo) * Cg + ci) * kh * kw;
        const dst = ((gi * Cg + ci) * Mg + mo) * kh * kw;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) out[dst + i * kw + j] = W[src + (kh - 1 - i) * kw + (kw - 1 - j)]!;
        }
      }
    }
  }
  return out;
}

export { f };

/**
 * Channel filters[n] of a convolution for image n only, for a batch of exactly `batch` images: the
 * batch is folded into channels ([1, N*Cin, H, W]) and each image's filter weights are gathered, so a
 * grouped convolution with N groups computes N single-channel outputs, and the input gradient is the
 * same trick with the flipped weights. Cost: 1/Cout of the full layer, forward and backward.
 */
export function emitPickedConv(g: Ops, x: string, spec: ConvSpec, filters: string, batch: number, hint: string): ConvNode {
  if (spec.group !== 1) throw new Error('emitPickedConv takes ungrouped convolutions');
  const [kh, kw] = spec.kernel;
  const M = spec.outChannels;
  const C = spec.inChannelsPerGroup;
  const W = g.floats(`${hint}_W`, spec.weights, [M, C, kh, kw]);
  const Wsel = g.op('Gather', [W, filters], { axis: 0 }, `${hint}_Wsel`); // [N, C, kh, kw]
  const xr = g.op('Reshape', [x, g.ints([1, batch * C, 0, 0])]);
  const inputs = [xr, Wsel];
  if (spec.bias) inputs.push(g.op('Gather', [g.floats(`${hint}_B`, spec.bias, [M]), filters], { axis: 0 }));
  const zr = g.op(
    'Conv',
    inputs,
    { kernel_shape: [kh, kw], strides: spec.strides, dilations: spec.dilations, group: batch, ...forwardPadAttrs(spec) },
    `${hint}_picked`,
  );
  const z = g.op('Reshape', [zr, g.ints([batch, 1, 0, 0])]);
  const backward = (gz: string): string => {
    const gzr = g.op('Reshape', [gz, g.ints([1, batch, 0, 0])]);
    let gxr: string;
    if (isUnitStride(spec)) {
      // Rotate each kernel 180 degrees (no channel swap needed: one output channel per group).
      const flipped = new Float32Array(spec.weights.length);
      for (let o = 0; o < M * C; o++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) flipped[(o * kh + i) * kw + j] = spec.weights[(o * kh + (kh - 1 - i)) * kw + (kw - 1 - j)]!;
      const Wf = g.floats(`${hint}_Wflip`, flipped, [M, C, kh, kw]);
      const Wfsel = g.op('Reshape', [g.op('Gather', [Wf, filters], { axis: 0 }), g.ints([batch * C, 1, kh, kw])]);
      const pads = backwardPads(spec, kh, kw);
      gxr = g.op('Conv', [gzr, Wfsel], { kernel_shape: [kh, kw], strides: [1, 1], dilations: spec.dilations, group: batch, pads }, `${hint}_grad`);
    } else {
      // ConvTranspose weights [N, C, kh, kw] with N groups: exactly the gathered forward weights.
      gxr = stridedConvBackward(g, gzr, xr, Wsel, { ...spec, group: batch }, hint);
    }
    return g.op('Reshape', [gxr, g.ints([batch, C, 0, 0])]);
  };
  return { z, backward };
}
