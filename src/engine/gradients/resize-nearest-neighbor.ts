/**
 * Nearest-neighbour upsampling gradient as sum-pooling.
 *
 * When the output is an exact integer multiple (fh, fw) of the input and neither align-corners nor
 * half-pixel centres are set (tfjs-layers' UpSampling2D), output pixel (y, x) copies input pixel
 * (floor(y / fh), floor(x / fw)): each input pixel's gradient is the sum of its fh x fw output block,
 * i.e. avgPool(dy, [fh, fw], stride [fh, fw]) * fh * fw on XNNPACK's pooling instead of wasm's
 * ResizeNearestNeighborGrad loop (exact for power-of-two factors), on every backend (cpu's own is wrong for batches).
 * Anything else uses the replaced gradient.
 */
import { tf } from '../../tf.js';
import { replacing } from './common.js';

/** The integer upsampling factors, or undefined when the resize is not a plain integer upsampling. */
export function integerUpsamplingFactors(inShape: readonly number[], outShape: readonly number[], attrs: tf.NamedAttrMap): [number, number] | undefined {
  const { alignCorners, halfPixelCenters } = attrs as unknown as Partial<tf.ResizeNearestNeighborAttrs>;
  if (alignCorners || halfPixelCenters || inShape.length !== 4 || outShape.length !== 4) return undefined;
  const [, h, w] = inShape as [number, number, number, number];
  const [, oh, ow] = outShape as [number, number, number, number];
  if (h <= 0 || w <= 0 || oh % h !== 0 || ow % w !== 0) return undefined;
  const fh = oh / h;
  const fw = ow / w;
  return fh >= 1 && fw >= 1 ? [fh, fw] : undefined;
}

export function fastResizeNearestNeighborGradConfig(original: tf.GradConfig): tf.GradConfig {
  return replacing(original, (dyIn, saved, attrs) => {
    // Every backend, not only the fast ones: tfjs-backend-cpu 4.22's own ResizeNearestNeighborGrad is wrong for the
    // second and later images of a batch (two identical images got gradients 1.8 apart; test/gradients.test.ts).
    const dy = dyIn as tf.Tensor;
    const [images] = saved;
    if (!images || dy.dtype !== 'float32') return original.gradFunc(dyIn, saved, attrs);
    const factors = integerUpsamplingFactors(images.shape, dy.shape, attrs);
    if (!factors) return original.gradFunc(dyIn, saved, attrs);
    const [fh, fw] = factors;
    return {
      images: () => {
        if (fh === 1 && fw === 1) return tf.clone(dy);
        const pooled = tf.avgPool(dy as tf.Tensor4D, [fh, fw], [fh, fw], 'valid');
        return tf.mul(pooled, tf.scalar(fh * fw));
      },
    };
  });
}
