/**
 * What the real-slice modes (activations, attribute, examples) share: layer checks against the
 * model's topology during validation, and the summary's time format.
 */
import { peekModelLayers, type LayerInfo } from '../activations/model-layers.js';
import type { CheckAt, ConfigPath } from '../run/mode.js';

/**
 * Runs CHECKS against the layers of `source`'s topology (model.json: builtin or a TensorFlow.js
 * model), each at its config path, so a bad layer name or channel fails before any model loads. For
 * models whose layers only loading tells (Keras .h5), the mode's checkModel runs the same checks.
 */
export function checkAgainstPeekedModel(source: string, at: CheckAt, checks: (layers: LayerInfo[]) => [ConfigPath, () => void][]): void {
  const layers = peekModelLayers(source);
  if (!layers) return;
  for (const [path, check] of checks(layers)) at(path, check);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
