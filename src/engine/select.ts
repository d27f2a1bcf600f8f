/**
 * Builds the engine for a model and a backend choice. `auto` takes the ONNX Runtime engine when
 * the model compiles to ONNX (the fastest path on CPU), else the tfjs engine on the best backend.
 */
import type { LayersModel } from '../tf.js';
import { selectBackend, type BackendChoice } from './backend.js';
import type { Engine } from './engine.js';
import { TfjsEngine } from './tfjs-engine.js';
import { UsageError } from '../errors.js';

export interface EngineSelection {
  engine: Engine;
  /** Candidates skipped on the way, with the reason: shown by --verbose. */
  skipped: string[];
  /** Set when `auto` wanted ONNX Runtime but the model does not compile (names the layer): always shown. */
  fallback?: string;
}

export interface EngineOptions {
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /** ONNX Runtime device. */
  device?: 'cpu' | 'cuda';
}

export async function createEngine(model: LayersModel, choice: BackendChoice, options: EngineOptions = {}): Promise<EngineSelection> {
  // The model lives in tfjs whatever runs its gradients, so a tfjs backend is always chosen.
  const backend = await selectBackend(choice);
  const skipped = [...backend.skipped];
  if (choice === 'onnx' || choice === 'auto') {
    try {
      // Imported on demand: the native binding loads at import time.
      const { createOnnxEngine } = await import('./onnx/index.js');
      return { engine: await createOnnxEngine(model, { threads: options.threads, device: options.device }), skipped };
    } catch (err) {
      const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
      if (choice === 'onnx') throw err instanceof UsageError ? err : new UsageError(`backend onnx cannot load onnxruntime-node: ${message}`, 'backend');
      skipped.unshift(`onnx: ${message}`);
      const engine = new TfjsEngine(model, { backend: backend.name, provider: backend.provider });
      return { engine, skipped, fallback: `${message}; using tfjs on ${backend.name}` };
    }
  }
  return { engine: new TfjsEngine(model, { backend: backend.name, provider: backend.provider }), skipped };
}
