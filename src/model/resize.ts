/**
 * Input-shape relaxation. tfjs-layers fixes the input shape at build time; a fully convolutional
 * model is rebuilt from its own config with a new input shape and the same weights, so it can take
 * any image size it divides cleanly.
 */
import { tf, type LayersModel } from '../tf.js';
import { UsageError } from '../errors.js';
import { checkInputSize, inputSizeMessage } from './input-size.js';

type Shape = (number | null)[];

interface LayerConfigJson {
  class_name: string;
  config: { batch_input_shape?: Shape; batchInputShape?: Shape; name?: string };
}

/** Layers whose weights tie them to one spatial size. */
const SIZE_BOUND = new Set(['Dense', 'Flatten', 'Reshape', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'LocallyConnected2D']);

export function inputShapeOf(model: LayersModel): Shape {
  return model.inputs[0]!.shape.slice(1);
}

export function sizeBoundLayer(model: LayersModel): string | undefined {
  return model.layers.find((l) => SIZE_BOUND.has(l.getClassName()))?.name;
}

/** A copy of `model` taking [height, width] inputs (null for any), with the same weight values. */
export async function withInputSize(model: LayersModel, height: number | null, width: number | null): Promise<LayersModel> {
  const current = inputShapeOf(model);
  if (current[0] === height && current[1] === width) return model;
  const bound = sizeBoundLayer(model);
  // Already any-size although it has Dense layers (e.g. after global pooling): it takes any size as is.
  if (bound !== undefined && current[0] === null && current[1] === null) return model;
  if (height !== null && width !== null) {
    // The layers decide: a Dense after global pooling takes any size, a Flatten head only its own.
    const fits = checkInputSize(model, { height, width });
    if (!fits.ok) throw new UsageError(inputSizeMessage({ height, width }, fits));
  } else if (bound !== undefined) {
    throw new UsageError(`the model takes ${current[0]}x${current[1]} inputs only (layer ${bound} ties it to that size); cannot use ${height ?? 'any'}x${width ?? 'any'}`);
  }
  const json = model.toJSON(undefined, false) as unknown as { config: { layers: LayerConfigJson[] } };
  for (const layer of json.config.layers) {
    if (layer.class_name === 'InputLayer') {
      const key = layer.config.batch_input_shape ? 'batch_input_shape' : 'batchInputShape';
      const shape = layer.config[key]!;
      layer.config[key] = [shape[0] ?? null, height, width, shape[3] ?? null];
    }
  }
  const rebuilt = await tf.models.modelFromJSON({ modelTopology: json } as unknown as tf.io.ModelJSON);
  const weights = model.getWeights();
  rebuilt.setWeights(weights);
  return rebuilt;
}
