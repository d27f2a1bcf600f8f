/** Normalisation in inference mode: BatchNormalization folds into a per-channel scale and shift. */
import { define, weightsOf, type Cfg } from './common.js';

export const batchNormalization = define<{ cfg: Cfg; rank: number }>(
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
