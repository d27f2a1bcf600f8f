/**
 * Activations: the named activations a layer's `activation` setting takes (shared by every layer that
 * has one) and the activation layers. ReLU-like masks use `x > 0`, like TensorFlow and tfjs-cpu.
 */
import { f, type Ops } from '../ops.js';
import { define, internalAxis, weightsOf, type Cfg } from './common.js';

export const ACTIVATIONS = Object.freeze(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'softmax', 'swish']);
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

export function activationName(cfg: Cfg, fail: (d: string) => never): string {
  const a = cfg.activation ?? 'linear';
  if (typeof a !== 'string' || !ACTIVATIONS.includes(a)) return fail(`activation ${JSON.stringify(a)} (supported: ${ACTIVATIONS.join(', ')})`);
  return a;
}

export interface ActivationNode {
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

export function emitSoftmax(g: Ops, z: string, axis: number, hint: string): ActivationNode {
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

export const activationLayer = define(
  (input, fail) => ({ act: activationName(input.cfg, fail), rank: input.inShapes[0]!.length }),
  ({ g, inputs, layer }, { act, rank }) => {
    const a = emitActivation(g, act, inputs[0]!.name, rank, layer.name);
    return { output: { name: a.y, rank }, backward: (gy) => [a.backward(gy)] };
  },
);

export const reluLayer = define(
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

export const leakyRelu = define(
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

export const prelu = define(
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

export const eluLayer = define(
  (input, fail) => {
    if (typeof input.cfg.alpha === 'number' && input.cfg.alpha !== 1) fail(`alpha ${input.cfg.alpha}`);
    return input.inShapes[0]!.length;
  },
  ({ g, inputs, layer }, rank) => {
    const a = emitActivation(g, 'elu', inputs[0]!.name, rank, layer.name);
    return { output: { name: a.y, rank }, backward: (gy) => [a.backward(gy)] };
  },
);

export const softmaxLayer = define(
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

export const thresholdedRelu = define(
  (input) => ({ theta: typeof input.cfg.theta === 'number' ? input.cfg.theta : 1, rank: input.inShapes[0]!.length }),
  ({ g, inputs, layer }, { theta, rank }) => {
    const x = inputs[0]!.name;
    const mask = g.op('Greater', [x, g.scalar(theta)]);
    const y = g.maskWhere(mask, x);
    return { output: { name: y, rank }, backward: (gy) => [g.maskWhere(mask, gy)] };
  },
);
