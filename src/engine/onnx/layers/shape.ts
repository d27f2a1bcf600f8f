/** Layers that move, resize, pad or crop values without mixing them: upsampling, padding, cropping, reshapes. */
import { SLICE_END, type Ops } from '../ops.js';
import { channelsLast, define, fromKeras, FROM_KERAS, pair, rank4, staticDim, toKeras, TO_KERAS, type LayerInput } from './common.js';

export const upSampling2d = define<{ size: [number, number]; bilinear: boolean; channels: number }>(
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

export const zeroPadding2d = define(parseCropPad('padding'), ({ g, inputs, layer }, p) => ({
  output: { name: padNode(g, inputs[0]!.name, p, layer.name), rank: 4 },
  backward: (gy) => [cropNode(g, gy, p, `${layer.name}_grad`)],
}));

export const cropping2d = define(parseCropPad('cropping'), ({ g, inputs, layer }, p) => ({
  output: { name: cropNode(g, inputs[0]!.name, p, layer.name), rank: 4 },
  backward: (gy) => [padNode(g, gy, p, `${layer.name}_grad`)],
}));

export const flatten = define(
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

export const reshape = define(
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

export const permute = define(
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
