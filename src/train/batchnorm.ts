/**
 * BatchNorm recalibration. During training each BatchNorm layer normalises with the batch's own
 * statistics and keeps exponential moving averages (momentum 0.99) for inference; in a short run
 * those averages lag the weights, and the network then infers far worse than it trains. This sets
 * every BatchNorm layer's moving mean and variance to the exact statistics of its input over a
 * calibration set, layer by layer in graph order (each layer's input depends on the ones before it).
 */
import { tf, type LayersModel } from '../tf.js';

export interface RecalibrationReport {
  layer: string;
  /** Mean absolute change of the moving mean and variance. */
  meanShift: number;
  varianceShift: number;
}

export function recalibrateBatchNorm(model: LayersModel, inputs: tf.Tensor4D, chunk = 16): RecalibrationReport[] {
  const reports: RecalibrationReport[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    const channels = (layer.input as tf.SymbolicTensor).shape[3] as number;
    const sum = new Float64Array(channels);
    const sumSq = new Float64Array(channels);
    let count = 0;
    for (let i = 0; i < inputs.shape[0]; i += chunk) {
      const n = Math.min(chunk, inputs.shape[0] - i);
      const [s, sq, c] = tf.tidy(() => {
        const act = probe.predict(inputs.slice([i, 0, 0, 0], [n, -1, -1, -1])) as tf.Tensor4D;
        const flat = act.reshape([-1, channels]);
        return [tf.sum(flat, 0).dataSync(), tf.sum(tf.square(flat), 0).dataSync(), flat.shape[0]] as const;
      });
      for (let k = 0; k < channels; k++) {
        sum[k]! += s[k]!;
        sumSq[k]! += sq[k]!;
      }
      count += c;
    }
    const mean = Float32Array.from(sum, (v) => v / count);
    const variance = Float32Array.from(sumSq, (v, k) => Math.max(0, v / count - mean[k]! ** 2));
    const [gamma, beta, oldMean, oldVar] = layer.getWeights();
    const om = oldMean!.dataSync();
    const ov = oldVar!.dataSync();
    reports.push({
      layer: layer.name,
      meanShift: mean.reduce((a, v, k) => a + Math.abs(v - om[k]!), 0) / channels,
      varianceShift: variance.reduce((a, v, k) => a + Math.abs(v - ov[k]!), 0) / channels,
    });
    layer.setWeights([gamma!, beta!, tf.tensor1d(mean), tf.tensor1d(variance)]);
  }
  return reports;
}
