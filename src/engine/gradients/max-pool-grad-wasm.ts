/**
 * A first-maximum max-pool gradient kernel for the wasm backend, for any window, stride and padding.
 *
 * wasm's own MaxPoolGrad routes each window's gradient to its LAST maximum, and, when the pool pads the
 * top or left with more than one channel, to wrong positions altogether (checked against tfjs-cpu and a
 * hand-written reference in test/gradients.test.ts). This one follows tfjs-cpu's definition exactly:
 * the first position in row-major window order whose value is strictly greater than all before it
 * (starting from -Infinity, so a window of only -Infinity or NaN passes no gradient). It reads and
 * writes the wasm heap directly; the loops are plain JS, a few ms for the U-Net's pools.
 */
import { tf } from '../../tf.js';
import { asWasmBackend } from './common.js';

export const UNET_DREAM_MAX_POOL_GRAD = 'UnetDreamMaxPoolGradFirst';

function maxPoolGradFirstWasm(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { dy, x } = args.inputs;
  const { filterSize, strides, pad, dimRoundingMode } = (args.attrs ?? {}) as unknown as tf.MaxPoolAttrs;
  if (!dy || !x) throw new Error(`${UNET_DREAM_MAX_POOL_GRAD} needs inputs dy and x`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`${UNET_DREAM_MAX_POOL_GRAD} supports float32 only`);
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  if (dy.shape.join() !== [batchSize, outHeight, outWidth, channels].join()) {
    throw new Error(`${UNET_DREAM_MAX_POOL_GRAD}: dy shape [${dy.shape}] does not match the pool output [${info.outShape}]`);
  }

  const out = backend.makeOutput(x.shape.slice(), 'float32');
  // Views after the allocation (it may grow the heap).
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  const best = new Float64Array(channels);
  const where = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      const yMin = Math.max(0, y0);
      const yMax = Math.min(inHeight, y0 + fh);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        const xMin = Math.max(0, x0);
        const xMax = Math.min(inWidth, x0 + fw);
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let iy = yMin; iy < yMax; iy++) {
          for (let ix = xMin; ix < xMax; ix++) {
            const base = ((b * inHeight + iy) * inWidth + ix) * channels;
            for (let c = 0; c < channels; c++) {
              const v = xv[base + c] as number;
              if (v > (best[c] as number)) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          const at = where[c] as number;
          if (at >= 0) dx[at] = (dx[at] as number) + (dyv[dyBase + c] as number);
        }
      }
    }
  }
  return out;
}

export const maxPoolGradFirstWasmConfig: tf.KernelConfig = {
  kernelName: UNET_DREAM_MAX_POOL_GRAD,
  backendName: 'wasm',
  kernelFunc: maxPoolGradFirstWasm as tf.KernelFunc,
};
