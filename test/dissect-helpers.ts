/** The tiny U-Net-like model of the dissection and pruning tests, with planted filters. */
import { tf, type LayersModel } from '../src/tf.js';
import type { PairSet } from '../src/dissect/data.js';
import { createRng } from '../src/mri/index.js';

export const SIZE = 16;
/** c1 filter 0 copies its input: on the planted data the input is the aliasing map, exactly. */
export const ALIAS_FILTER = { layer: 'c1', filter: 0 };
/** c2 filter 2 never fires: kernel 0, bias -1, ReLU. */
export const DEAD_FILTER = { layer: 'c2', filter: 2 };

/** input -> c1 (4, relu) -> bn1 -> pool -> c2 (4, relu) -> up -> concat(up, bn1) -> c3 (3, relu) -> bn3 -> out (1, linear). */
export function plantedModel(seed = 3): LayersModel {
  const L = tf.layers;
  const init = (s: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: s }), biasInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.1, seed: s + 100 }) });
  const input = tf.input({ shape: [SIZE, SIZE, 1], name: 'input' });
  const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', ...init(seed) }).apply(input) as tf.SymbolicTensor;
  const bn1 = L.batchNormalization({ name: 'bn1' }).apply(c1) as tf.SymbolicTensor;
  const pool = L.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(bn1) as tf.SymbolicTensor;
  const c2 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2', ...init(seed + 1) }).apply(pool) as tf.SymbolicTensor;
  const up = L.upSampling2d({ size: [2, 2], name: 'up' }).apply(c2) as tf.SymbolicTensor;
  const cat = L.concatenate({ name: 'cat' }).apply([up, bn1]) as tf.SymbolicTensor;
  const c3 = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3', ...init(seed + 2) }).apply(cat) as tf.SymbolicTensor;
  const bn3 = L.batchNormalization({ name: 'bn3' }).apply(c3) as tf.SymbolicTensor;
  const out = L.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'linear', name: 'out', ...init(seed + 3) }).apply(bn3) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'planted' });
  const rng = createRng(seed);
  // BatchNorm with non-trivial statistics, so folded constants are not zero by accident.
  for (const name of ['bn1', 'bn3']) {
    const layer = model.getLayer(name);
    const c = layer.getWeights()[0]!.shape[0]!;
    const v = (lo: number, hi: number) => tf.tensor1d(Array.from({ length: c }, () => lo + (hi - lo) * rng.next()));
    layer.setWeights([v(0.5, 1.5), v(-0.3, 0.3), v(0, 0.2), v(0.5, 1.5)]);
  }
  const [k1, b1] = model.getLayer('c1').getWeights();
  const kernel1 = k1!.arraySync() as number[][][][];
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) kernel1[y]![x]![0]![0] = y === 1 && x === 1 ? 1 : 0;
  const bias1 = b1!.arraySync() as number[];
  bias1[0] = 0;
  model.getLayer('c1').setWeights([tf.tensor4d(kernel1), tf.tensor1d(bias1)]);
  const [k2, b2] = model.getLayer('c2').getWeights();
  const kernel2 = k2!.arraySync() as number[][][][];
  for (const row of kernel2) for (const col of row) for (const cin of col) cin[2] = 0;
  const bias2 = b2!.arraySync() as number[];
  bias2[2] = -1;
  model.getLayer('c2').setWeights([tf.tensor4d(kernel2), tf.tensor1d(bias2)]);
  return model;
}

/**
 * Targets all zero, so the aliasing |input - target| is the input itself. Inputs are dim noise in
 * [0, 0.1] (below the 0.15 aliasing threshold) plus exactly as many bright pixels (distinct values
 * in [0.5, 1]) as a top-0.5% mask holds: the aliasing mask is those pixels.
 */
export function plantedPairs(n = 50, seed = 5): PairSet {
  const pixels = SIZE * SIZE;
  const rng = createRng(seed);
  const inputs = new Float32Array(n * pixels).map(() => 0.1 * rng.next());
  const bright = Math.ceil(0.005 * n * pixels);
  const chosen = new Set<number>();
  while (chosen.size < bright) chosen.add(Math.floor(rng.next() * n * pixels));
  [...chosen].forEach((p, i) => (inputs[p] = 0.5 + (0.5 * i) / bright));
  return { inputs, targets: new Float32Array(n * pixels), n, size: SIZE, names: Array.from({ length: n }, (_, i) => `planted #${i}`), failed: [] };
}
