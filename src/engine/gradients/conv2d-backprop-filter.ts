/**
 * A `Conv2DBackpropFilter` kernel for the wasm backend, which ships none: without it no Conv2D (and no
 * fused Conv2D) weight gradient can be computed on wasm, so nothing trains there.
 *
 * dW[kh, kw, :, :] = X_tap^T dY, one matrix product per filter tap, where X_tap [in, N*OH*OW] holds, for
 * every output position, the input pixel that tap reads (zero where it reads padding). The input is
 * transposed once to channel-major with wasm's Transpose kernel so each X_tap row is filled with
 * contiguous copies straight from the wasm heap (wasm's Slice would copy the whole input per call), and
 * the products run on wasm's BatchMatMul with no transposed operand (XNNPACK's fast path; a transposed
 * left operand is ~10x slower there). Handles any stride, 'same'/'valid'/explicit padding, NHWC.
 */
import { tf } from '../../tf.js';
import { asWasmBackend, pair, runBackendKernel } from './common.js';

export const CONV2D_BACKPROP_FILTER = 'Conv2DBackpropFilter';

function conv2DBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x, dy } = args.inputs;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropFilterAttrs;
  if (!x || !dy) throw new Error('Conv2DBackpropFilter needs inputs x and dy');
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${attrs.dataFormat}`);
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('wasm Conv2DBackpropFilter supports float32 only');
  const strides = pair(attrs.strides) ?? [1, 1];
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const m = n * oh * ow;

  const out = backend.makeOutput([kh, kw, cin, cout], 'float32');
  if (m === 0 || cin === 0 || cout === 0) {
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
    return out;
  }
  const temps: tf.TensorInfo[] = [];
  try {
    // Channel-major input [in, N, H, W]; dy as [1, M, out] (a reshape shares the data).
    const xT = runBackendKernel('Transpose', 'wasm', backend, { x }, { perm: [3, 0, 1, 2] });
    temps.push(xT);
    const dy3 = runBackendKernel('Reshape', 'wasm', backend, { x: dy }, { shape: [1, m, cout] });
    temps.push(dy3);
    const cols = backend.makeOutput([1, cin, m], 'float32');
    temps.push(cols);

    const rowsPerChannel = n * oh;
    for (let fy = 0; fy < kh; fy++) {
      for (let fx = 0; fx < kw; fx++) {
        // Views are taken afresh: a kernel call may grow the wasm memory and detach older views.
        const src = backend.typedArrayFromHeap(xT) as Float32Array;
        const dst = backend.typedArrayFromHeap(cols) as Float32Array;
        // Output columns whose input column lies inside the image for this tap.
        const ix0 = fx - left;
        const owStart = Math.min(ow, Math.max(0, Math.ceil(-ix0 / sw)));
        const owEnd = Math.max(owStart, Math.min(ow, Math.floor((w - 1 - ix0) / sw) + 1));
        for (let c = 0; c < cin; c++) {
          for (let r = 0; r < rowsPerChannel; r++) {
            const b = Math.floor(r / oh);
            const oy = r - b * oh;
            const iy = oy * sh + fy - top;
            const d = (c * rowsPerChannel + r) * ow;
            if (iy < 0 || iy >= h || owStart >= owEnd) {
              dst.fill(0, d, d + ow);
              continue;
            }
            if (owStart > 0) dst.fill(0, d, d + owStart);
            if (owEnd < ow) dst.fill(0, d + owEnd, d + ow);
            const s = ((c * n + b) * h + iy) * w + ix0;
            if (sw === 1) {
              dst.set(src.subarray(s + owStart, s + owEnd), d + owStart);
            } else {
              for (let j = owStart; j < owEnd; j++) dst[d + j] = src[s + j * sw] as number;
            }
          }
        }
        const product = runBackendKernel('BatchMatMul', 'wasm', backend, { a: cols, b: dy3 }, { transposeA: false, transposeB: false });
        const outView = backend.typedArrayFromHeap(out) as Float32Array;
        outView.set(backend.typedArrayFromHeap(product) as Float32Array, (fy * kw + fx) * cin * cout);
        backend.disposeData(product.dataId);
      }
    }
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
  return out;
}

export const conv2DBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: CONV2D_BACKPROP_FILTER,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as tf.KernelFunc,
};
