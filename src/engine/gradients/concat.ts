/**
 * Concat gradient: dy split back into the inputs' sizes along the concatenation axis with one pass over
 * dy (split-wasm.ts) instead of tfjs' split, whose wasm Slice copies all of dy once per piece.
 */
import { tf } from '../../tf.js';
import { onFastBackend, replacing } from './common.js';
import { UNET_DREAM_SPLIT, type SplitAttrs } from './split-wasm.js';

export function fastConcatGradConfig(original: tf.GradConfig): tf.GradConfig {
  return replacing(original, (dyIn, saved, attrs) => {
    const dy = dyIn as tf.Tensor;
    if (!onFastBackend() || saved.length === 0 || !tf.getKernel(UNET_DREAM_SPLIT, tf.getBackend())) {
      return original.gradFunc(dyIn, saved, attrs);
    }
    const first = saved[0] as tf.Tensor;
    const axis = tf.util.parseAxisParam((attrs as unknown as tf.ConcatAttrs).axis, first.shape)[0] as number;
    const splitAttrs: SplitAttrs = { sizes: saved.map((t) => t.shape[axis] as number), axis };
    const pieces = tf.engine().runKernel(UNET_DREAM_SPLIT, { x: dy }, splitAttrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    const grads: Record<string, () => tf.Tensor> = {};
    pieces.forEach((piece, i) => {
      grads[i] = () => piece;
    });
    return grads;
  });
}
