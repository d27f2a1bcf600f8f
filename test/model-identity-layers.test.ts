import { promises as fs } from 'node:fs';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { createEngine } from '../src/engine/select.js';
import { tf, type LayersModel } from '../src/tf.js';
import { INFERENCE_IDENTITY_CLASSES, rewriteInferenceIdentities, type Json } from '../src/model/keras-config.js';
import { saveKerasH5 } from '../src/model/keras-h5.js';
import { loadModel } from '../src/model/load.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { tempDir } from './helpers.js';

type T = tf.SymbolicTensor;

/**
 * conv -> six training-only layers -> conv. tfjs builds only some of these classes, so the model is
 * built with Dropout placeholders and the saved config is then given the Keras class names.
 */
function modelWithPlaceholders(): LayersModel {
  const x = tf.input({ shape: [null, null, 1] });
  let y = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(x) as T;
  for (const name of ['sd2', 'areg', 'gnoise', 'gdrop', 'adrop', 'drop']) y = tf.layers.dropout({ rate: 0.5, name }).apply(y) as T;
  y = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'c2', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(y) as T;
  return tf.model({ inputs: x, outputs: y });
}

/** The Keras config of a training-only layer, as Keras writes it. */
const KERAS_LAYERS: Record<string, { class_name: string; config: Record<string, Json> }> = {
  sd2: { class_name: 'SpatialDropout2D', config: { name: 'sd2', trainable: true, dtype: 'float32', rate: 0.3, noise_shape: null, seed: null } },
  areg: { class_name: 'ActivityRegularization', config: { name: 'areg', trainable: true, dtype: 'float32', l1: 0.01, l2: 0.0 } },
  gnoise: { class_name: 'GaussianNoise', config: { name: 'gnoise', trainable: true, dtype: 'float32', stddev: 0.1 } },
  gdrop: { class_name: 'GaussianDropout', config: { name: 'gdrop', trainable: true, dtype: 'float32', rate: 0.2 } },
  adrop: { class_name: 'AlphaDropout', config: { name: 'adrop', trainable: true, dtype: 'float32', rate: 0.1 } },
  drop: { class_name: 'Dropout', config: { name: 'drop', trainable: true, dtype: 'float32', rate: 0.5, noise_shape: null, seed: null } },
};

function kerasNames(config: Json): Json {
  if (Array.isArray(config)) return config.map(kerasNames);
  if (typeof config !== 'object' || config === null) return config;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(config)) out[k] = kerasNames(v);
  const name = (out.config as Record<string, Json> | undefined)?.name;
  if (out.class_name === 'Dropout' && typeof name === 'string' && KERAS_LAYERS[name]) Object.assign(out, KERAS_LAYERS[name]);
  return out;
}

async function writeKerasFile(model: LayersModel, file: string): Promise<void> {
  await saveKerasH5(model, file);
  const f = new h5wasm.File(file, 'a');
  try {
    const config = JSON.parse(f.attrs.model_config!.value as string) as Json;
    f.delete_attribute('model_config');
    f.create_attribute('model_config', JSON.stringify(kerasNames(config)), null, 'A');
  } finally {
    f.close();
  }
}

describe('Keras layers that act only in training load as identity', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    await h5wasm.ready;
  });

  it('a .h5 with SpatialDropout2D, ActivityRegularization, GaussianNoise/Dropout, AlphaDropout and Dropout loads, computes the same, and says so', async () => {
    const source = modelWithPlaceholders();
    const file = path.join(tempDir(), 'dropouts.h5');
    await writeKerasFile(source, file);
    const loaded = await loadModel(file);
    expect(loaded.notes).toEqual([
      'layer "sd2" (SpatialDropout2D) acts only in training: loaded as identity',
      'layer "areg" (ActivityRegularization) acts only in training: loaded as identity',
      'layer "gnoise" (GaussianNoise) acts only in training: loaded as identity',
      'layer "gdrop" (GaussianDropout) acts only in training: loaded as identity',
      'layer "adrop" (AlphaDropout) acts only in training: loaded as identity',
      'layer "drop" (Dropout) acts only in training: loaded as identity',
    ]);
    const x = tf.randomUniform([1, 12, 12, 1], 0, 1, 'float32', 5);
    const expected = (source.predict(x) as tf.Tensor).dataSync();
    const actual = (loaded.model.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(actual)).toEqual(Array.from(expected));
    // Both engines run it: the same objective value at c2.
    const image = x.dataSync() as Float32Array;
    const values: number[] = [];
    for (const backend of ['onnx', 'wasm'] as const) {
      const { engine } = await createEngine(loaded.model, backend);
      expect(engine.info.engine).toBe(backend === 'onnx' ? 'onnx' : 'tfjs');
      values.push((await engine.evaluate({ data: image, n: 1, height: 12, width: 12, channels: 1 }, { kind: 'filter', layer: 'c2', filters: [1] }))[0]!);
      engine.dispose();
    }
    expect(values[0]).toBeCloseTo(values[1]!, 5);
  });

  it('a model.json with the same layers loads too (the loader rewrites its topology)', async () => {
    const dir = tempDir();
    await saveLayersModel(modelWithPlaceholders(), dir);
    const jsonFile = path.join(dir, 'model.json');
    const json = JSON.parse(await fs.readFile(jsonFile, 'utf8'));
    json.modelTopology = kerasNames(json.modelTopology);
    await fs.writeFile(jsonFile, JSON.stringify(json));
    const loaded = await loadModel(jsonFile);
    expect(loaded.notes).toHaveLength(6);
    expect(loaded.model.getLayer('sd2').getClassName()).toBe('Dropout');
  });

  it('every class in the list rebuilds in tfjs after the rewrite (1D and 3D spatial dropout included)', () => {
    for (const cls of INFERENCE_IDENTITY_CLASSES) {
      const entry = rewriteInferenceIdentities({ class_name: cls, config: { name: 'x', rate: 0.25, trainable: true, dtype: 'float32' } }) as { class_name: string; config: Record<string, unknown> };
      expect(tf.serialization.SerializationMap.getMap().classNameMap[entry.class_name], cls).toBeDefined();
      expect(entry.config.name).toBe('x');
    }
  });
});
