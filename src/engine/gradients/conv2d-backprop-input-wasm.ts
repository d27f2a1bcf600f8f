/**
 * wasm's `Conv2DBackpropInput` kernel, replaced by one that runs stride-1 'same' odd-kernel cases on the
 * forward Conv2D kernel (XNNPACK) with the filter rotated 180 degrees and its channel axes swapped, and
 * hands every other case to the kernel it replaced.
 *
 * The Conv2D gradient (conv2d.ts) already avoids this kernel, but tfjs' fused conv2d, which tfjs-layers
 * uses for linear-activation convolutions such as `final_conv1` even while recording gradients, calls it
 * from its own customGrad, out of reach of the gradient registry. At 128x128, 64 -> 1 channels: ~46 ms
 * with wasm's kernel, ~2 ms this way.
 */
import { tf } from '../../tf.js';
import { asWasmBackend, pair, runBackendKernel } from './common.js';
import { rotateTransposeInto } from './conv2d.js';

export const CONV2D_BACKPROP_INPUT = 'Conv2DBackpropInput';

/** Builds the replacement around wasm's original kernel. */
export function conv2DBackpropInputWasmConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): tf.TensorInfo | tf.TensorInfo[] => {
    const { dy, filter } = args.inputs;
    const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropInputAttrs;
    const strides = pair(attrs.strides);
    const fast =
      dy !== undefined &&
      filter !== undefined &&
      dy.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      filter.shape.length === 4 &&
      dy.shape.length === 4 &&
      (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC') &&
      attrs.pad === 'same' &&
      strides !== undefined &&
      strides[0] === 1 &&
      strides[1] === 1 &&
      (filter.shape[0] as number) % 2 === 1 &&
      (filter.shape[1] as number) % 2 === 1 &&
      Array.isArray(attrs.inputShape) &&
      attrs.inputShape.length === 4 &&
      attrs.inputShape[0] === dy.shape[0] &&
      attrs.inputShape[1] === dy.shape[1] &&
      attrs.inputShape[2] === dy.shape[2];
    if (!fast) return original.kernelFunc(args);

    const backend = asWasmBackend(args.backend);
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    const rotated = backend.makeOutput([kh, kw, cout, cin], 'float32');
    try {
      rotateTransposeInto(backend.typedArrayFromHeap(filter) as Float32Array, backend.typedArrayFromHeap(rotated) as Float32Array, [kh, kw, cin, cout]);
      return runBackendKernel('Conv2D', 'wasm', backend, { x: dy, filter: rotated }, {
        strides: [1, 1],
        pad: 'same',
        dataFormat: 'NHWC',
        dilations: [1, 1],
      });
    } finally {
      backend.disposeData(rotated.dataId);
    }
  };
  const config: tf.KernelConfig = { kernelName: CONV2D_BACKPROP_INPUT, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc };
  if (original.setupFunc) config.setupFunc = original.setupFunc;
  if (original.disposeFunc) config.disposeFunc = original.disposeFunc;
  return config;
}
