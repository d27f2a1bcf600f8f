/**
 * A split kernel for the wasm backend that copies each piece straight out of the wasm heap.
 *
 * wasm's SplitV calls its Slice kernel once per piece, and Slice starts with `readSync`, which copies the
 * whole input out of the heap before copying the piece out of that copy (row by row when the piece is
 * not contiguous, as for a channel split). This kernel reads through a view of the heap instead, so the
 * input is read once in all. Registered under its own name, so tfjs' SplitV is left as it is; the Concat
 * gradient (concat.ts) calls it through the engine.
 */
import { tf } from '../../tf.js';
import { asWasmBackend } from './common.js';

export const UNET_DREAM_SPLIT = 'UnetDreamSplitV';

export interface SplitAttrs {
  /** Sizes of the pieces along `axis`; they must add up to the input's size there. */
  sizes: number[];
  /** Non-negative axis. */
  axis: number;
}

function splitWasm(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { x } = args.inputs;
  const { sizes, axis } = (args.attrs ?? {}) as unknown as SplitAttrs;
  if (!x) throw new Error(`${UNET_DREAM_SPLIT} needs input x`);
  if (x.dtype === 'string' || x.dtype === 'complex64') throw new Error(`${UNET_DREAM_SPLIT} does not support ${x.dtype}`);
  const shape = x.shape;
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new Error(`${UNET_DREAM_SPLIT}: bad axis ${axis}`);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== shape[axis] || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`${UNET_DREAM_SPLIT}: sizes ${sizes} do not split axis ${axis} of shape [${shape}]`);
  }
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i] as number;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i] as number;

  // Allocate everything first: allocation may grow the heap and detach views taken earlier.
  const outs = sizes.map((s) => {
    const outShape = shape.slice();
    outShape[axis] = s;
    return backend.makeOutput(outShape, x.dtype);
  });
  const src = backend.typedArrayFromHeap(x);
  const rowLength = total * inner;
  let offset = 0;
  outs.forEach((out, i) => {
    const chunk = (sizes[i] as number) * inner;
    if (chunk > 0 && outer > 0) {
      const dst = backend.typedArrayFromHeap(out);
      if (chunk >= 16 || outer === 1) {
        for (let o = 0; o < outer; o++) {
          const s = o * rowLength + offset;
          dst.set(src.subarray(s, s + chunk), o * chunk);
        }
      } else {
        for (let o = 0; o < outer; o++) {
          const s = o * rowLength + offset;
          const d = o * chunk;
          for (let j = 0; j < chunk; j++) dst[d + j] = src[s + j] as number;
        }
      }
    }
    offset += chunk;
  });
  return outs;
}

export const splitWasmConfig: tf.KernelConfig = {
  kernelName: UNET_DREAM_SPLIT,
  backendName: 'wasm',
  kernelFunc: splitWasm as tf.KernelFunc,
};
