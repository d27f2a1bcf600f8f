/**
 * FusedBatchNorm gradient without `tile`.
 *
 * y = (x - mean) * r * scale + offset with r = 1/sqrt(variance + eps). tfjs' default input gradient tiles
 * r to the full input shape and multiplies twice, and it computes x - mean and dy * scale (two more
 * full-size passes) even when only dL/dx is wanted, as in inference-mode ascent. Here:
 *   dx      = dy * (scale * r)                         one broadcast multiply
 *   doffset = sum(dy)
 *   dmean   = -sum(dy) * scale * r
 *   dscale  = sum(dy * (x - mean)) * r
 *   dvar    = -0.5 * sum(dy * (x - mean)) * scale * r^3
 * with the sums over the axes the statistics are broadcast along, computed only when asked for.
 * Training-mode tfjs-layers BatchNormalization computes the batch moments with ordinary ops and feeds
 * them in as mean/variance, so dmean and dvar carry that part of its gradient.
 */
import { tf } from '../../tf.js';
import { onFastBackend, replacing, sameShape } from './common.js';

export function fastFusedBatchNormGradConfig(original: tf.GradConfig): tf.GradConfig {
  return replacing(original, (dyIn, saved, attrs) => {
    if (!onFastBackend()) return original.gradFunc(dyIn, saved, attrs);
    const dy = dyIn as tf.Tensor;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    if (!x || !mean || !variance) return original.gradFunc(dyIn, saved, attrs);
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    // Statistics must broadcast against x without enlarging it.
    const statShape = tf.broadcast_util.assertAndGetBroadcastShape(
      tf.broadcast_util.assertAndGetBroadcastShape(mean.shape, variance.shape),
      scale ? scale.shape : [],
    );
    if (!sameShape(tf.broadcast_util.assertAndGetBroadcastShape(statShape, x.shape), x.shape)) {
      return original.gradFunc(dyIn, saved, attrs);
    }
    const axes = tf.broadcast_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: tf.Tensor): tf.Tensor => tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, mean.shape);

    // Small tensors: the shape of the statistics.
    const r = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const scaleR = scale ? tf.mul(scale, r) : r;

    // tfjs runs each closure below in its own tidy, so nothing computed in one survives for another:
    // sum(dy * (x - mean)) is computed again when both dscale and dvar are wanted (training only).
    const dySum = () => reduce(dy);
    const dyCenteredSum = () => reduce(tf.mul(dy, tf.sub(x, mean)));

    return {
      x: () => {
        const dx = tf.mul(dy, scaleR);
        return sameShape(dx.shape, x.shape) ? dx : tf.reshape(dx, x.shape);
      },
      mean: () => tf.reshape(tf.neg(tf.mul(dySum(), scaleR)), mean.shape),
      variance: () => {
        const r3 = tf.mul(tf.mul(r, r), r);
        const s = scale ? tf.mul(r3, scale) : r3;
        return tf.reshape(tf.mul(tf.mul(dyCenteredSum(), s), tf.scalar(-0.5)), mean.shape);
      },
      scale: () => tf.reshape(tf.mul(dyCenteredSum(), r), mean.shape),
      offset: () => tf.reshape(dySum(), mean.shape),
    };
  });
}
