/** What the rest of the project asks of a model's structure: its input channels and the layers an ascent can target. */
import type { LayersModel } from '../tf.js';

/** Input channels; a rank-3 input ([batch, h, w], e.g. an MNIST net that reshapes) has one. */
export function modelChannels(model: LayersModel): number {
  const shape = model.inputs[0]!.shape;
  return shape.length === 4 ? (shape[3] ?? 1) : 1;
}

/** Layers an ascent can target: those with a 4-D (image-shaped) output. */
export function targetableLayers(model: LayersModel): string[] {
  return model.layers
    .filter((l) => {
      const shape = l.outputShape;
      return !Array.isArray(shape[0]) && (shape as unknown[]).length === 4 && l.getClassName() !== 'InputLayer';
    })
    .map((l) => l.name);
}
