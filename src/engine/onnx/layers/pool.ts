/**
 * Pooling. Max pooling routes the gradient to the first maximum of a window (onnxruntime's MaxPool
 * indices, like TF and tfjs-cpu); global max pooling to every element equal to the maximum (tfjs' Max
 * gradient).
 */
import { stridedConvBackward } from '../ops.js';
import { channelsLast, define, pair, padding, rank4, staticDim, type LayerInput } from './common.js';

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

export const maxPooling2d = define<PoolParsed>(parsePool, ({ g, inputs, layer }, p) => {
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

export const averagePooling2d = define<PoolParsed & { channels: number }>(
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

/** Global pooling to [N, C]: 4-D channels-last inputs, without keepDims. */
function checkGlobalPooling(input: LayerInput, fail: (detail: string) => never): void {
  rank4(input, fail);
  channelsLast(input.cfg, fail);
  if (input.cfg.keepDims === true) fail('keepDims');
}

export const globalAveragePooling2d = define(
  checkGlobalPooling,
  ({ g, inputs, layer }) => {
    const x = inputs[0]!.name;
    const y = g.op('ReduceMean', [x], { axes: [2, 3], keepdims: 0 }, layer.name);
    return {
      output: { name: y, rank: 2 },
      backward: (gy) => [g.op('Expand', [g.op('Mul', [g.unsqueeze(gy, [2, 3]), g.inverseCount(x, 2, 4)]), g.shape(x)], {}, `${layer.name}_grad`)],
    };
  },
);

export const globalMaxPooling2d = define(
  checkGlobalPooling,
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
