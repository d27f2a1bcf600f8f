/**
 * Where onnxruntime-node comes from. A checkout (or a project that installed onnxruntime-node itself) resolves it
 * as usual. An installed unet-dream package does not list it as a dependency: npm would then run its postinstall,
 * which on Linux x64 downloads CUDA binaries from nuget.org by default (fails offline, and fetches gigabytes a CPU
 * user never needs). Instead the package's own install step (scripts/install-runtime.mjs) installs the pinned
 * version from the npm registry into `runtime/`, with scripts off; this module finds it there.
 *
 * Loading never throws at import time: a missing runtime becomes an error at first use, so commands that never
 * touch ONNX Runtime (or fall back to TensorFlow.js) still start.
 */
import './telemetry-off.js';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type * as OrtModule from 'onnxruntime-node';

type Ort = typeof OrtModule;

/** The package root: this file is <root>/{src,dist}/engine/onnx/runtime.{ts,js}. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The folder the install step fills when onnxruntime-node is not otherwise resolvable. */
export const RUNTIME_DIR = path.join(PACKAGE_ROOT, 'runtime');

/** Where onnxruntime-node's entry point resolves, or undefined. */
export function resolveOnnxRuntime(): string | undefined {
  for (const from of [import.meta.url, path.join(RUNTIME_DIR, 'package.json')]) {
    try {
      return createRequire(from).resolve('onnxruntime-node');
    } catch {
      // not here; try the next place
    }
  }
  return undefined;
}

async function load(): Promise<{ ort?: Ort; error?: string }> {
  const entry = resolveOnnxRuntime();
  if (entry === undefined) {
    return { error: `onnxruntime-node is not installed (looked in node_modules and ${RUNTIME_DIR}); run \`npm rebuild unet-dream\` to install it from the npm registry, or use --backend wasm` };
  }
  try {
    const module = (await import(pathToFileURL(entry).href)) as { default?: Ort } & Ort;
    return { ort: module.default ?? module };
  } catch (err) {
    return { error: `onnxruntime-node at ${entry} does not load: ${(err as Error).message.split('\n')[0]}` };
  }
}

const loaded = await load();

/** Why ONNX Runtime is unavailable, or undefined when it loaded. */
export const ONNX_RUNTIME_ERROR: string | undefined = loaded.error;

/**
 * The onnxruntime-node module. When it could not load, any use throws the reason (the engine selection catches
 * it and falls back to TensorFlow.js under --backend auto).
 */
export const ort: Ort =
  loaded.ort ??
  (new Proxy({} as Ort, {
    get(_target, key) {
      if (key === 'then') return undefined; // not a thenable: `await` on the module namespace must not throw
      throw new Error(loaded.error);
    },
  }) as Ort);

/** The runtime's types under the same name as the value, so callers write `ort.Tensor` in both places. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace ort {
  type Tensor = OrtModule.Tensor;
  type InferenceSession = OrtModule.InferenceSession;
  namespace InferenceSession {
    type SessionOptions = OrtModule.InferenceSession.SessionOptions;
  }
}
