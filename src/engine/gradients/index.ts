/**
 * Fast gradients for the tfjs wasm backend, registered in tfjs' global registries so tfjs-layers
 * models use them with no change where gradients are taken.
 *
 * Measured on a 2-core Zen 4 with bench/gradients.ts (figures in BENCHMARKS.md): one ascent step to `uconv64` at 128x128
 * goes from ~3.7 s with tfjs' gradients to well under a second. What each piece does:
 * - Conv2D (conv2d.ts): input gradient as one forward convolution with the rotated filter.
 * - Conv2DBackpropFilter (conv2d-backprop-filter.ts): the weight-gradient kernel wasm lacks; it serves
 *   the Conv2D gradient and the customGrad of fused (linear-activation) Conv2D alike, so training works.
 * - Conv2DBackpropInput on wasm (conv2d-backprop-input-wasm.ts): the same forward-convolution trick
 *   for the fused Conv2D's customGrad, which the gradient registry cannot reach.
 * - FusedBatchNorm (batch-norm.ts): input gradient as one broadcast multiply, no `tile`.
 * - ResizeNearestNeighbor (resize-nearest-neighbor.ts): integer upsampling gradient as sum-pooling.
 * - Concat (concat.ts + split-wasm.ts): one pass over dy instead of a full copy per piece.
 * - MaxPool (max-pool.ts + max-pool-grad-wasm.ts): gradient to the first maximum of each window, as
 *   every other runtime does (wasm's own picks the last, and misroutes with top/left padding).
 * The replaced gradients are kept: each fast gradient falls back to them for cases it does not cover
 * and on backends other than wasm (common.ts), so registering is safe whatever backend is active.
 */
import { tf } from '../../tf.js';
import { fastFusedBatchNormGradConfig } from './batch-norm.js';
import { fastConcatGradConfig } from './concat.js';
import { conv2DBackpropFilterWasmConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputWasmConfig } from './conv2d-backprop-input-wasm.js';
import { fastConv2DGradConfig } from './conv2d.js';
import { maxPoolGradFirstWasmConfig } from './max-pool-grad-wasm.js';
import { fastMaxPoolGradConfig } from './max-pool.js';
import { fastResizeNearestNeighborGradConfig } from './resize-nearest-neighbor.js';
import { splitWasmConfig } from './split-wasm.js';

export { FAST_GRADIENT_BACKENDS } from './common.js';

const GRADIENTS: ReadonlyArray<readonly [string, (original: tf.GradConfig) => tf.GradConfig]> = [
  ['Conv2D', fastConv2DGradConfig],
  ['FusedBatchNorm', fastFusedBatchNormGradConfig],
  ['ResizeNearestNeighbor', fastResizeNearestNeighborGradConfig],
  ['Concat', fastConcatGradConfig],
  ['MaxPool', fastMaxPoolGradConfig],
];

/** Kernels added for wasm, registered only where wasm has none of that name. */
const WASM_KERNELS: readonly tf.KernelConfig[] = [conv2DBackpropFilterWasmConfig, splitWasmConfig, maxPoolGradFirstWasmConfig];

/** wasm kernels replaced by versions that handle the common case and call the original otherwise. */
const WASM_KERNEL_REPLACEMENTS: ReadonlyArray<readonly [string, (original: tf.KernelConfig) => tf.KernelConfig]> = [
  ['Conv2DBackpropInput', conv2DBackpropInputWasmConfig],
];

/** What unregistering restores: the gradients and kernels we replaced, and the kernels we added. */
const originals = new Map<string, tf.GradConfig>();
const replacedKernels: { original: tf.KernelConfig; replacement: tf.KernelConfig }[] = [];
const addedKernels: tf.KernelConfig[] = [];
let registered = false;

/**
 * Registers the fast gradients and wasm kernels. Idempotent: safe to call any number of times. Call it
 * after importing @tensorflow/tfjs-backend-wasm (before or after selecting it); called earlier, it
 * registers everything but the wasm kernel replacement, which a later call adds.
 */
export function registerFastGradients(): void {
  for (const config of WASM_KERNELS) {
    if (!tf.getKernel(config.kernelName, config.backendName)) {
      tf.registerKernel(config);
      addedKernels.push(config);
    }
  }
  for (const [kernelName, make] of WASM_KERNEL_REPLACEMENTS) {
    if (replacedKernels.some((r) => r.original.kernelName === kernelName)) continue;
    const original = tf.getKernel(kernelName, 'wasm');
    if (!original) continue; // the wasm backend is not imported (yet)
    const replacement = make(original);
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel(replacement);
    replacedKernels.push({ original, replacement });
  }
  if (registered) return;
  for (const [kernelName, make] of GRADIENTS) {
    const original = tf.getGradient(kernelName);
    if (!original) continue; // nothing to fall back to: leave tfjs as it is
    originals.set(kernelName, original);
    tf.registerGradient(make(original));
  }
  registered = true;
}

export function fastGradientsRegistered(): boolean {
  return registered;
}

/** Puts tfjs' own gradients and kernels back and removes the kernels we added (for comparisons and tests). */
export function unregisterFastGradients(): void {
  for (const original of originals.values()) tf.registerGradient(original);
  originals.clear();
  for (const { original, replacement } of replacedKernels.splice(0)) {
    if (tf.getKernel(original.kernelName, original.backendName) !== replacement) continue;
    tf.unregisterKernel(original.kernelName, original.backendName);
    tf.registerKernel(original);
  }
  for (const config of addedKernels.splice(0)) {
    if (tf.getKernel(config.kernelName, config.backendName) === config) tf.unregisterKernel(config.kernelName, config.backendName);
  }
  registered = false;
}
