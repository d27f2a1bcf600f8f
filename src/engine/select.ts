/** Builds the engine for a model and a `--backend` choice. */
import type { LayersModel } from './tf.js';
import { selectBackend, type BackendChoice } from './backend.js';
import type { Engine } from './engine.js';
import { TfjsEngine } from './tfjs-engine.js';

export interface EngineSelection {
  engine: Engine;
  /** Candidates skipped on the way, with the reason: shown by --verbose. */
  skipped: string[];
}

export async function createEngine(model: LayersModel, choice: BackendChoice): Promise<EngineSelection> {
  const backend = await selectBackend(choice);
  return { engine: new TfjsEngine(model, { backend: backend.name, provider: backend.provider }), skipped: backend.skipped };
}
