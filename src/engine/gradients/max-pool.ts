/**
 * MaxPool gradient that routes each window's gradient to the FIRST maximum in the window (row-major),
 * as TensorFlow, PyTorch, onnxruntime and tfjs' cpu backend do. wasm's MaxPoolGrad picks the last one
 * (ReLU zeros shifted by BatchNorm make ties common, so the two disagree visibly), and with top/left
 * padding and several channels it misroutes gradients outright.
 *
 * On wasm this runs the kernel in max-pool-grad-wasm.ts for every pool. For the U-Net's 2x2 pools it
 * was measured against a whole-tensor op formulation (x == upsample(y), a per-position priority,
 * maxPool of the priorities, compare again, multiply by upsample(dy)): at 128x128x64 the kernel takes
 * ~6 ms, the ops ~13 ms, wasm's MaxPoolGrad ~23 ms.
 */
import { tf } from '../../tf.js';
import { onFastBackend, replacing } from './common.js';
import { UNET_DREAM_MAX_POOL_GRAD } from './max-pool-grad-wasm.js';

export function fastMaxPoolGradConfig(original: tf.GradConfig): tf.GradConfig {
  return replacing(original, (dyIn, saved, attrs) => {
    const dy = dyIn as tf.Tensor;
    const [x] = saved;
    if (!onFastBackend() || !x || x.rank !== 4 || x.dtype !== 'float32' || !tf.getKernel(UNET_DREAM_MAX_POOL_GRAD, tf.getBackend())) {
      return original.gradFunc(dyIn, saved, attrs);
    }
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
    const kernelAttrs: tf.MaxPoolAttrs = { filterSize, strides, pad };
    if (dimRoundingMode !== undefined) kernelAttrs.dimRoundingMode = dimRoundingMode;
    return {
      x: () => tf.engine().runKernel(UNET_DREAM_MAX_POOL_GRAD, { dy, x }, kernelAttrs as unknown as tf.NamedAttrMap) as tf.Tensor,
    };
  });
}
