/**
 * The one place the real-slice modes touch today's model and engine plumbing: load the model, pick
 * the engine, describe both for the manifest. When the pipeline's run context lands, this file is
 * what turns into it.
 */
import { createEngine } from '../engine/select.js';
import type { Engine } from '../engine/engine.js';
import type { LayersModel } from '../tf.js';
import { loadModel } from '../model/load.js';
import type { ModelOptions } from './config-common.js';

export type RealSliceEvent =
  | { type: 'engine'; engine: string; backend: string; fallback?: string }
  | { type: 'slice'; input: string; index: number; total: number }
  | { type: 'layer'; layer: string; index: number; total: number };

export interface OpenedModel {
  model: LayersModel;
  engine: Engine;
  residual: boolean;
  info: { spec: string; id: string; sha256: string; trained: boolean; residual: boolean; engine: string; backend: string };
}

export async function openModel(options: ModelOptions, onEvent?: (e: RealSliceEvent) => void): Promise<OpenedModel> {
  const loaded = await loadModel(options.source, { architecture: options.architecture });
  const selection = await createEngine(loaded.model, options.backend, { threads: options.threads, device: options.device });
  onEvent?.({ type: 'engine', engine: selection.engine.info.engine, backend: selection.engine.info.backend, fallback: selection.fallback });
  return {
    model: loaded.model,
    engine: selection.engine,
    residual: loaded.residual,
    info: {
      spec: loaded.spec,
      id: loaded.id,
      sha256: loaded.sha256,
      trained: loaded.trained,
      residual: loaded.residual,
      engine: selection.engine.info.engine,
      backend: selection.engine.info.backend,
    },
  };
}
