/**
 * Conv2D gradient whose input part runs on the forward convolution kernel.
 *
 * For stride 1, 'same' padding, odd kernel sizes and dilation 1 (every convolution of the U-Net), the
 * input gradient of y = conv(x, W) is itself a 'same' convolution: dL/dx = conv(dL/dy, W'), where W' is
 * W rotated by 180 degrees with its in/out channel axes swapped. On wasm the forward convolution
 * (XNNPACK) is ~12x faster than `Conv2DBackpropInput`. The filter part is tfjs' own
 * (`conv2DBackpropFilter`), which on wasm runs on the kernel in conv2d-backprop-filter.ts.
 * Everything else (strides, 'valid' or explicit padding, even kernels, NCHW, other backends) goes to the
 * gradient this one replaced.
 */
import { tf } from '../../tf.js';
import { isOnes, onFastBackend, replacing } from './common.js';

/** Whether dL/dx of this Conv2D is a 'same' forward convolution with the rotated filter. */
export function conv2DInputGradIsForwardConv(filterShape: readonly number[], attrs: tf.NamedAttrMap): boolean {
  const { strides, pad, dataFormat, dilations } = attrs as unknown as Partial<tf.Conv2DAttrs>;
  if (filterShape.length !== 4) return false;
  const [kh, kw] = filterShape as [number, number, number, number];
  return (
    (dataFormat === undefined || dataFormat === 'NHWC') &&
    pad === 'same' &&
    isOnes(strides) &&
    isOnes(dilations) &&
    kh % 2 === 1 &&
    kw % 2 === 1
  );
}

/**
 * [kh, kw, in, out] -> rotated 180 degrees in space, [kh, kw, out, in]. Done in JS on the filter's values:
 * the filter is small, and wasm's Reverse kernel takes ~50 ms on a 3x3x768x128 filter where this takes ~2.
 */
export function rotatedTransposedFilter(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  const dst = new Float32Array(kh * kw * cin * cout);
  rotateTransposeInto(filter.dataSync() as Float32Array, dst, filter.shape);
  return tf.tensor4d(dst, [kh, kw, cout, cin], 'float32');
}

/** Writes [kh, kw, in, out] `src` rotated 180 degrees and transposed to [kh, kw, out, in] into `dst`. */
export function rotateTransposeInto(src: Float32Array, dst: Float32Array, shape: readonly [number, number, number, number]): void {
  const [kh, kw, cin, cout] = shape;
  const taps = kh * kw;
  for (let t = 0; t < taps; t++) {
    const s0 = t * cin * cout;
    const d0 = (taps - 1 - t) * cin * cout;
    for (let c = 0; c < cin; c++) {
      const s = s0 + c * cout;
      for (let o = 0; o < cout; o++) dst[d0 + o * cin + c] = src[s + o] as number;
    }
  }
}

/** dL/dx for a stride-1 'same' convolution with an odd kernel, as one forward convolution. */
export function conv2DInputGradAsConv(dy: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.conv2d(dy, rotatedTransposedFilter(filter), 1, 'same', 'NHWC'));
}

export function fastConv2DGradConfig(original: tf.GradConfig): tf.GradConfig {
  return replacing(original, (dy, saved, attrs) => {
    const grads = original.gradFunc(dy, saved, attrs);
    if (!onFastBackend()) return grads;
    const [x, filter] = saved;
    if (!x || !filter || x.rank !== 4 || !conv2DInputGradIsForwardConv(filter.shape, attrs)) return grads;
    return { ...grads, x: () => conv2DInputGradAsConv(dy as tf.Tensor4D, filter as tf.Tensor4D) };
  });
}
