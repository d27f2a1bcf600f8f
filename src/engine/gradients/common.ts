/**
 * Shared pieces of the fast gradients: which backends take the fast paths, small attribute helpers,
 * and the slice of the wasm backend's object that our wasm kernels use.
 *
 * tfjs keeps one global gradient registry for all backends, so every fast gradient checks the active
 * backend when it runs and hands anything it does not handle to the gradient it replaced. That keeps
 * backends with good native kernels (tfjs-node) and the pure-JS reference (cpu) on tfjs' own gradients.
 */
import { tf } from '../../tf.js';

/** Backends on which the fast gradients are used; elsewhere the replaced gradients run. */
export const FAST_GRADIENT_BACKENDS: ReadonlySet<string> = new Set(['wasm']);

export function onFastBackend(): boolean {
  return FAST_GRADIENT_BACKENDS.has(tf.getBackend());
}

/** A gradient config that replaces `original`, saving the same tensors so the fallback still works. */
export function replacing(original: tf.GradConfig, gradFunc: tf.GradConfig['gradFunc']): tf.GradConfig {
  const config: tf.GradConfig = { kernelName: original.kernelName, gradFunc };
  if (original.inputsToSave) config.inputsToSave = [...original.inputsToSave];
  if (original.outputsToSave) config.outputsToSave = [...original.outputsToSave];
  if (original.saveAllInputs) config.saveAllInputs = true;
  return config;
}

/** A kernel attribute given as a number or a pair, as a pair. */
export function pair(value: unknown): [number, number] | undefined {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) {
    return [value[0] as number, value[1] as number];
  }
  return undefined;
}

export function isOnes(value: unknown): boolean {
  if (value == null) return true; // tfjs' default for dilations
  const p = pair(value);
  return p !== undefined && p[0] === 1 && p[1] === 1;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The members of tfjs-backend-wasm's BackendWasm that our wasm kernels use. Kernel functions receive
 * the backend as `{}`; these are the same calls tfjs' own wasm kernels make.
 */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

export function asWasmBackend(backend: unknown): WasmBackendLike {
  const b = backend as Partial<WasmBackendLike> | null;
  if (!b || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.disposeData !== 'function') {
    throw new Error('unet-dream: this kernel needs the tfjs wasm backend');
  }
  return b as WasmBackendLike;
}

/** Runs another kernel registered for the same backend, as tfjs' own kernels do (no tape, no tracking). */
export function runBackendKernel(
  kernelName: string,
  backendName: string,
  backend: unknown,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, backendName);
  if (!kernel) throw new Error(`unet-dream: the ${backendName} backend has no ${kernelName} kernel`);
  const out = kernel.kernelFunc({ inputs, attrs, backend: backend as object });
  if (Array.isArray(out)) throw new Error(`unet-dream: ${kernelName} returned several tensors`);
  return out as tf.TensorInfo;
}
