import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import h5wasm, { type Dataset, type Group } from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tf, type LayersModel } from '../src/tf.js';
import { InputError, OutputError, UsageError } from '../src/errors.js';
import { loadKerasH5, saveKerasH5 } from '../src/model/keras-h5.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { buildUNet } from '../src/model/unet.js';
import { tempDir } from './helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const realdata = path.resolve(repoRoot, '..', 'shared', 'realdata');
const kerasDir = path.join(realdata, 'keras');
const haveRealdata = existsSync(kerasDir);

let dir: string;
beforeAll(async () => {
  dir = tempDir('unet-dream-keras-');
  await h5wasm.ready;
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------
// helpers

function weightsOf(model: LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function expectBitwiseEqual(a: Float32Array[], b: Float32Array[]): void {
  expect(b.length).toBe(a.length);
  a.forEach((x, i) => {
    const y = b[i]!;
    expect(y.length).toBe(x.length);
    // compare the bits: -0 vs 0 or NaN payloads would show here
    expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(x.buffer, x.byteOffset, x.byteLength))).toBe(true);
  });
}

function predictData(model: LayersModel, input: tf.Tensor): Float32Array[] {
  const out = model.predict(input);
  const list = Array.isArray(out) ? out : [out];
  const data = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  return data;
}

async function expectReject(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

/** A Keras-style list-of-names attribute, written the way h5py writes numpy bytes arrays. */
function namesAttr(group: Group, name: string, names: string[]): void {
  if (names.length === 0) group.create_attribute(name, new Float64Array(0), [0]);
  else group.create_attribute(name, names, [names.length], `A${Math.max(...names.map((n) => n.length))}`);
}

interface HandLayer {
  name: string;
  weights: { name: string; data: Float32Array; shape: number[] }[];
}

/** Writes layer groups by hand, as Keras' save_weights_to_hdf5_group does. */
function writeLayers(root: Group, layers: HandLayer[]): void {
  namesAttr(root, 'layer_names', layers.map((l) => l.name));
  for (const layer of layers) {
    const g = root.create_group(layer.name);
    namesAttr(g, 'weight_names', layer.weights.map((w) => w.name));
    for (const w of layer.weights) {
      const parts = w.name.split('/');
      let sub = g;
      for (const p of parts.slice(0, -1)) sub = sub.keys().includes(p) ? (sub.get(p) as Group) : sub.create_group(p);
      sub.create_dataset({ name: parts.at(-1)!, data: w.data, shape: w.shape, dtype: '<f' });
    }
  }
}

/** The layers of a tfjs model as Keras would name their weights (`<layer>/<weight>:0`). */
function handLayers(model: LayersModel): HandLayer[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    weights: layer.weights.map((w) => ({ name: `${w.originalName}:0`, data: w.read().dataSync() as Float32Array, shape: w.shape as number[] })),
  }));
}

function writeH5(file: string, fill: (f: InstanceType<typeof h5wasm.File>) => void): void {
  const f = new h5wasm.File(file, 'w');
  try {
    fill(f);
  } finally {
    f.close();
  }
}

function writeFullModel(file: string, config: unknown, layers: HandLayer[], kerasVersion = '2.2.4'): void {
  writeH5(file, (f) => {
    f.create_attribute('keras_version', kerasVersion, null, 'A');
    f.create_attribute('backend', 'tensorflow', null, 'A');
    f.create_attribute('model_config', JSON.stringify(config), null, 'A');
    writeLayers(f.create_group('model_weights'), layers);
  });
}

function smallSequential(): LayersModel {
  return tf.sequential({
    name: 'small_seq',
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'conv_a', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 2 }) }),
      tf.layers.batchNormalization({ name: 'bn_a', movingMeanInitializer: tf.initializers.constant({ value: 0.1 }), movingVarianceInitializer: tf.initializers.constant({ value: 0.7 }) }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 5, activation: 'softmax', name: 'probs', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}

const input8 = () => tf.randomUniform([2, 8, 8, 2], 0, 1, 'float32', 11);

// ------------------------------------------------------------------------------------------------

describe('saveKerasH5 / loadKerasH5 round trip', () => {
  const unet = buildUNet({ size: 32 });
  let file: string;

  beforeAll(async () => {
    file = path.join(dir, 'unet.h5');
    await saveKerasH5(unet, file);
  });

  it('1. the U-Net comes back with bitwise-equal weights, the same layers and the same outputs', async () => {
    const loaded = await loadKerasH5(file);
    expect(loaded.layers.map((l) => l.name)).toEqual(unet.layers.map((l) => l.name));
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(unet.layers.map((l) => l.getClassName()));
    expect(loaded.countParams()).toBe(2_881_217);
    expectBitwiseEqual(weightsOf(unet), weightsOf(loaded));
    const x = tf.randomUniform([1, 32, 32, 1], 0, 2, 'float32', 5);
    const [a] = predictData(unet, x);
    const [b] = predictData(loaded, x);
    expect(Array.from(b!)).toEqual(Array.from(a!));
    x.dispose();
    loaded.dispose();
  });

  it("2. the file has the seed's layout and Keras' attributes", () => {
    const f = new h5wasm.File(file, 'r');
    try {
      expect(f.attrs.keras_version!.value).toMatch(/^2\./);
      expect(f.attrs.backend!.value).toBe('tensorflow');
      const config = JSON.parse(f.attrs.model_config!.value as string);
      expect(config.class_name).toBe('Model');
      expect(config.config.layers.map((l: { name: string }) => l.name)).toEqual(unet.layers.map((l) => l.name));
      expect((f.get('model_weights') as Group).attrs.layer_names!.value).toEqual(unet.layers.map((l) => l.name));

      const kernel = f.get('model_weights/dconv64/dconv64/kernel:0') as Dataset;
      expect(kernel).toBeInstanceOf(h5wasm.Dataset);
      expect(kernel.shape).toEqual([3, 3, 1, 64]);
      expect(kernel.dtype).toBe('<f');
      expect(kernel.value).toBeInstanceOf(Float32Array);
      const variance = f.get('model_weights/conv64_1/conv64_1/moving_variance:0') as Dataset;
      expect(variance).toBeInstanceOf(h5wasm.Dataset);
      expect(variance.shape).toEqual([64]);
      expect((f.get('model_weights/conv64_1') as Group).attrs.weight_names!.value).toEqual([
        'conv64_1/gamma:0',
        'conv64_1/beta:0',
        'conv64_1/moving_mean:0',
        'conv64_1/moving_variance:0',
      ]);
      expect(f.get('model_weights/final_conv1/final_conv1/bias:0')).toBeInstanceOf(h5wasm.Dataset);
      // layers without weights get an empty weight_names, as Keras writes it
      expect(Array.from((f.get('model_weights/code') as Group).attrs.weight_names!.value as Float64Array)).toEqual([]);
    } finally {
      f.close();
    }
  });

  it('3. the write is atomic: no temp file is left, an existing file is replaced, a bad path is an OutputError', async () => {
    const target = path.join(dir, 'seq-replace.h5');
    await fs.writeFile(target, 'old contents');
    const seq = smallSequential();
    await saveKerasH5(seq, target);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect((await loadKerasH5(target)).layers.map((l) => l.name)).toEqual(seq.layers.map((l) => l.name));
    const blocked = path.join(dir, 'seq-replace.h5', 'inside.h5'); // parent is a file
    const err = await expectReject(saveKerasH5(seq, blocked));
    expect(err).toBeInstanceOf(OutputError);
    expect(err.message).toContain('inside.h5');
  });

  it('4. a Sequential model round trips (class, weights, softmax outputs)', async () => {
    const seq = smallSequential();
    const file2 = path.join(dir, 'seq.h5');
    await saveKerasH5(seq, file2);
    const loaded = await loadKerasH5(file2);
    expect(loaded.getClassName()).toBe('Sequential');
    expectBitwiseEqual(weightsOf(seq), weightsOf(loaded));
    const x = input8();
    const [a] = predictData(seq, x);
    const [b] = predictData(loaded, x);
    expect(Array.from(b!)).toEqual(Array.from(a!));
    expect(b!.slice(0, 5).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    x.dispose();
  });
});

describe('weights are matched by name', () => {
  it('5. a Keras 2.1 Sequential (config is a bare layer list) with weights stored in another order and group', async () => {
    const ref = smallSequential();
    const pyConfig = ref.toJSON(undefined, false) as unknown as { config: { layers: unknown[] } };
    const config = { class_name: 'Sequential', config: pyConfig.config.layers }; // Keras <= 2.1 form
    // reversed weight order, and datasets under "<layer>_1/" as in the MTCNN file: only names can pair them
    const layers = handLayers(ref).map((l) => ({
      name: l.name,
      weights: l.weights.map((w) => ({ ...w, name: w.name.replace(`${l.name}/`, `${l.name}_1/`) })).reverse(),
    }));
    const file = path.join(dir, 'keras21-seq.h5');
    writeFullModel(file, config, layers, '2.1.6');
    const loaded = await loadKerasH5(file);
    expectBitwiseEqual(weightsOf(ref), weightsOf(loaded));
    const bn = loaded.getLayer('bn_a').getWeights().map((w) => w.dataSync()[0]);
    expect(bn[2]).toBeCloseTo(0.1, 6); // moving_mean, not gamma or beta
    expect(bn[3]).toBeCloseTo(0.7, 6); // moving_variance
  });

  it('6. a shape mismatch names the layer, the weight and both shapes', async () => {
    const ref = smallSequential();
    const layers = handLayers(ref);
    const conv = layers.find((l) => l.name === 'conv_a')!;
    conv.weights[0] = { name: 'conv_a/kernel:0', data: new Float32Array(5 * 5 * 2 * 3), shape: [5, 5, 2, 3] };
    const file = path.join(dir, 'bad-shape.h5');
    writeFullModel(file, ref.toJSON(undefined, false), layers);
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/conv_a.*kernel:0.*\[5, 5, 2, 3\].*\[3, 3, 2, 3\]/);
  });
});

describe('weights-only files', () => {
  it('7. are refused without an architecture, and load with a Keras JSON or a tfjs model.json architecture', async () => {
    const ref = smallSequential();
    const file = path.join(dir, 'weights-only.h5');
    writeH5(file, (f) => {
      f.create_attribute('keras_version', '2.2.4', null, 'A');
      f.create_attribute('backend', 'tensorflow', null, 'A');
      writeLayers(f, handLayers(ref));
    });
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('weights-only');
    expect(err.message).toContain('--architecture model.json');

    const kerasJson = path.join(dir, 'arch-keras.json');
    const topology = ref.toJSON(undefined, false) as unknown as Record<string, unknown>;
    await fs.writeFile(kerasJson, JSON.stringify({ ...topology, keras_version: '2.2.4', backend: 'tensorflow' }));
    const a = await loadKerasH5(file, { architecture: kerasJson });
    expectBitwiseEqual(weightsOf(ref), weightsOf(a));

    // a tfjs model.json whose own weights differ: the h5 weights must win
    const other = smallSequential();
    other.getLayer('conv_a').setWeights([tf.zeros([3, 3, 2, 3]), tf.ones([3])]);
    const tfjsDir = path.join(dir, 'arch-tfjs');
    await saveLayersModel(other, tfjsDir);
    const b = await loadKerasH5(file, { architecture: path.join(tfjsDir, 'model.json') });
    expectBitwiseEqual(weightsOf(ref), weightsOf(b));
    const x = input8();
    expect(Array.from(predictData(b, x)[0]!)).toEqual(Array.from(predictData(ref, x)[0]!));
    x.dispose();
  });

  it('8. an architecture that does not fit the weights is an InputError naming the layer', async () => {
    const file = path.join(dir, 'weights-only-2.h5');
    writeH5(file, (f) => writeLayers(f, handLayers(smallSequential())));
    const wrong = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, name: 'conv_a' }), tf.layers.batchNormalization({ name: 'bn_a' }), tf.layers.flatten({ name: 'flat' }), tf.layers.dense({ units: 5, name: 'probs' })],
    });
    const arch = path.join(dir, 'arch-wrong.json');
    await fs.writeFile(arch, JSON.stringify(wrong.toJSON(undefined, false)));
    const err = await expectReject(loadKerasH5(file, { architecture: arch }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain('conv_a');
  });
});

describe('refusals and unreadable files', () => {
  const lambdaConfig = {
    class_name: 'Model',
    config: {
      name: 'with_lambda',
      layers: [
        { name: 'inp', class_name: 'InputLayer', config: { batch_input_shape: [null, 4], dtype: 'float32', sparse: false, name: 'inp' }, inbound_nodes: [] },
        { name: 'scale_by_two', class_name: 'Lambda', config: { name: 'scale_by_two', trainable: true, function: ['4wEAAAAAAAAAAQAAAAIAAABTAAAAcwgAAAB8AGQBFABTACkCTukCAAAAqQApAdoBeHIBAAAAcgEAAAD6AS7aCDxsYW1iZGE+AQAAAPMAAAAA', null, null], function_type: 'lambda', output_shape: null, arguments: {} }, inbound_nodes: [[['inp', 0, 0, {}]]] },
        { name: 'out', class_name: 'Dense', config: { name: 'out', units: 2, activation: 'linear', use_bias: true }, inbound_nodes: [[['scale_by_two', 0, 0, {}]]] },
      ],
      input_layers: [['inp', 0, 0]],
      output_layers: [['out', 0, 0]],
    },
  };
  const denseLayer: HandLayer = { name: 'out', weights: [{ name: 'out/kernel:0', data: new Float32Array(8), shape: [4, 2] }, { name: 'out/bias:0', data: new Float32Array(2), shape: [2] }] };

  it('9. a Lambda layer is refused naming the layer and the class', async () => {
    const file = path.join(dir, 'lambda.h5');
    writeFullModel(file, lambdaConfig, [{ name: 'inp', weights: [] }, { name: 'scale_by_two', weights: [] }, denseLayer]);
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('"scale_by_two"');
    expect(err.message).toContain('Lambda');
    expect(err.message).toContain('Python code');
  });

  it('10. a custom layer class is refused naming the layer and the class', async () => {
    const custom = structuredClone(lambdaConfig);
    custom.config.layers[1] = { name: 'my_attention', class_name: 'MyAttention', config: { name: 'my_attention', heads: 4 } as never, inbound_nodes: [[['inp', 0, 0, {}]]] };
    custom.config.layers[2]!.inbound_nodes = [[['my_attention', 0, 0, {}]]];
    const file = path.join(dir, 'custom.h5');
    writeFullModel(file, custom, [{ name: 'inp', weights: [] }, { name: 'my_attention', weights: [] }, denseLayer]);
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/"my_attention".*MyAttention/);
  });

  it('11. Keras 1 settings in a config are refused even when keras_version says 2', async () => {
    const file = path.join(dir, 'keras1-keys.h5');
    const config = { class_name: 'Sequential', config: [{ class_name: 'Convolution2D', config: { name: 'c', batch_input_shape: [null, 5, 5, 1], nb_filter: 2, nb_row: 3, nb_col: 3, dim_ordering: 'tf' } }] };
    writeFullModel(file, config, [{ name: 'c', weights: [{ name: 'c_W', data: new Float32Array(18), shape: [3, 3, 1, 2] }] }], '2.0.0');
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('Keras 1 files are not supported');
    expect(err.message).toContain('nb_filter');
    expect(err.message).toContain('model.save(');
  });

  it('12. a file that is not HDF5, a truncated HDF5 file, a missing file: InputErrors naming the file, nothing printed', async () => {
    const spies = (['log', 'warn', 'error', 'info'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => undefined));
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      const text = path.join(dir, 'notes.h5');
      await fs.writeFile(text, 'this is not HDF5\n'.repeat(100));
      let err = await expectReject(loadKerasH5(text));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain(text);
      expect(err.message).toContain('not an HDF5 file');

      const whole = await fs.readFile(path.join(dir, 'unet.h5'));
      const truncated = path.join(dir, 'truncated.h5');
      await fs.writeFile(truncated, whole.subarray(0, 4000));
      err = await expectReject(loadKerasH5(truncated));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain(truncated);
      expect(err.message).toMatch(/truncated/);

      err = await expectReject(loadKerasH5(path.join(dir, 'missing.h5')));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain('missing.h5: no such file');

      const plain = path.join(dir, 'plain.h5');
      writeH5(plain, (f) => f.create_dataset({ name: 'x', data: new Float32Array([1, 2]) }));
      err = await expectReject(loadKerasH5(plain));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain('not a Keras model');

      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
      stderr.mockRestore();
    }
  });

  it('13. a Keras 3 .keras archive is refused with what to do', async () => {
    // the start of a zip as Keras 3 writes it: a local file header for config.json
    const name = Buffer.from('config.json');
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(name.length, 26);
    const file = path.join(dir, 'model.keras');
    await fs.writeFile(file, Buffer.concat([header, name, Buffer.from('{}')]));
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('Keras 3 .keras archive');
    expect(err.message).toContain(".save('model.h5')");
  });
});

describe('Keras 3 configs in a legacy .h5 file', () => {
  it('14. the Keras 3 spelling (nodes as args/kwargs, DTypePolicy, batch_shape) rebuilds the same network', async () => {
    const inp = tf.input({ shape: [8, 8, 2], name: 'inp' });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), biasInitializer: tf.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: 6 }) }).apply(inp) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'bn', movingVarianceInitializer: tf.initializers.constant({ value: 0.5 }) }).apply(conv) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate({ name: 'cat' }).apply([bn, inp]) as tf.SymbolicTensor;
    const head = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }).apply(cat) as tf.SymbolicTensor;
    const ref = tf.model({ inputs: inp, outputs: head });

    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const tensor = (layer: string, shape: (number | null)[]) => ({ class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [layer, 0, 0] } });
    const init = (cls: string, config = {}) => ({ module: 'keras.initializers', class_name: cls, config, registered_name: null });
    const convConfig = (name: string, filters: number, k: number, activation: string) => ({
      name, trainable: true, dtype: policy, filters, kernel_size: [k, k], strides: [1, 1], padding: k === 3 ? 'same' : 'valid', data_format: 'channels_last', dilation_rate: [1, 1], groups: 1, activation, use_bias: true,
      kernel_initializer: init('GlorotUniform', { seed: null }), bias_initializer: init('Zeros'), kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    });
    const config = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'k3',
        trainable: true,
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 8, 8, 2], dtype: 'float32', sparse: false, optional: false, name: 'inp' }, registered_name: null, name: 'inp', inbound_nodes: [] },
          { module: 'keras.layers', class_name: 'Conv2D', config: convConfig('conv', 3, 3, 'relu'), registered_name: null, build_config: { input_shape: [null, 8, 8, 2] }, name: 'conv', inbound_nodes: [{ args: [tensor('inp', [null, 8, 8, 2])], kwargs: {} }] },
          { module: 'keras.layers', class_name: 'BatchNormalization', config: { name: 'bn', trainable: true, dtype: policy, axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true, beta_initializer: init('Zeros'), gamma_initializer: init('Ones'), moving_mean_initializer: init('Zeros'), moving_variance_initializer: init('Ones'), beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null, synchronized: false }, registered_name: null, build_config: { input_shape: [null, 8, 8, 3] }, name: 'bn', inbound_nodes: [{ args: [tensor('conv', [null, 8, 8, 3])], kwargs: { mask: null } }] },
          { module: 'keras.layers', class_name: 'Concatenate', config: { name: 'cat', trainable: true, dtype: policy, axis: -1 }, registered_name: null, build_config: { input_shape: [[null, 8, 8, 3], [null, 8, 8, 2]] }, name: 'cat', inbound_nodes: [{ args: [[tensor('bn', [null, 8, 8, 3]), tensor('inp', [null, 8, 8, 2])]], kwargs: {} }] },
          { module: 'keras.layers', class_name: 'Conv2D', config: convConfig('head', 1, 1, 'linear'), registered_name: null, build_config: { input_shape: [null, 8, 8, 5] }, name: 'head', inbound_nodes: [{ args: [tensor('cat', [null, 8, 8, 5])], kwargs: {} }] },
        ],
        input_layers: ['inp', 0, 0],
        output_layers: [['head', 0, 0]],
      },
      registered_name: 'Functional',
      build_config: { input_shape: null },
    };
    // Keras 3 names weights by variable path, without the ":0" suffix
    const layers = handLayers(ref).map((l) => ({ ...l, weights: l.weights.map((w) => ({ ...w, name: w.name.replace(/:0$/, '') })) }));
    const file = path.join(dir, 'keras3-legacy.h5');
    writeFullModel(file, config, layers, '3.3.3');
    const loaded = await loadKerasH5(file);
    expect(loaded.layers.map((l) => l.name)).toEqual(['inp', 'conv', 'bn', 'cat', 'head']);
    expectBitwiseEqual(weightsOf(ref), weightsOf(loaded));
    const x = input8();
    expect(Array.from(predictData(loaded, x)[0]!)).toEqual(Array.from(predictData(ref, x)[0]!));
    x.dispose();
  });
});

// ------------------------------------------------------------------------------------------------
// Real files from ../shared/realdata (PROVENANCE.tsv). Skipped, saying so, when the folder is absent.

/** Every weight of the model equals the h5 dataset its layer's weight_names give, matched by the last name part. */
function expectWeightsMatchFile(model: LayersModel, file: string): number {
  const f = new h5wasm.File(file, 'r');
  let compared = 0;
  try {
    for (const layer of model.layers) {
      if (layer.weights.length === 0) continue;
      const group = f.get(`model_weights/${layer.name}`) as Group;
      const names = group.attrs.weight_names!.value as string[];
      expect(names.length).toBe(layer.weights.length);
      const values = layer.getWeights();
      layer.weights.forEach((variable, i) => {
        const short = variable.originalName.split('/').at(-1)!;
        const match = names.filter((n) => n.replace(/:0$/, '').split('/').at(-1) === short);
        expect(match).toHaveLength(1);
        const dataset = group.get(match[0]!) as Dataset;
        expect(dataset.shape).toEqual(variable.shape);
        expectBitwiseEqual([dataset.value as Float32Array], [values[i]!.dataSync() as Float32Array]);
        compared++;
      });
    }
  } finally {
    f.close();
  }
  return compared;
}

function table(model: LayersModel): [string, string, string, number][] {
  return model.layers.map((l) => [l.name, l.getClassName(), JSON.stringify(l.outputShape), l.countParams()]);
}

describe.skipIf(!haveRealdata)(`real Keras files in ${kerasDir}${haveRealdata ? '' : ' (absent: skipped)'}`, () => {
  it('15. tensorspace_mnist_lenet.h5 (Keras 2.1.6 Sequential, trained) loads, matches the file and reads digits', async () => {
    const file = path.join(kerasDir, 'tensorspace_mnist_lenet.h5');
    const model = await loadKerasH5(file);
    expect(model.getClassName()).toBe('Sequential');
    expect(model.inputs[0]!.shape).toEqual([null, 28, 28]);
    expect(model.countParams()).toBe(44426);
    expect(table(model)).toEqual([
      ['input_1', 'InputLayer', '[null,28,28]', 0],
      ['reshape_1', 'Reshape', '[null,28,28,1]', 0],
      ['Conv2D_1', 'Conv2D', '[null,24,24,6]', 156],
      ['MaxPooling2D_1', 'MaxPooling2D', '[null,12,12,6]', 0],
      ['Conv2D_2', 'Conv2D', '[null,8,8,16]', 2416],
      ['MaxPooling2D_2', 'MaxPooling2D', '[null,4,4,16]', 0],
      ['flatten_1', 'Flatten', '[null,256]', 0],
      ['Dense_1', 'Dense', '[null,120]', 30840],
      ['Dense_2', 'Dense', '[null,84]', 10164],
      ['Softmax', 'Dense', '[null,10]', 850],
    ]);
    expect(expectWeightsMatchFile(model, file)).toBe(10);

    // hand-drawn digits in [0, 1]: a trained LeNet reads them, which also proves kernel and dense layouts
    const draw = (digit: 0 | 1 | 7) => {
      const a = new Float32Array(28 * 28);
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const r = Math.hypot((x - 13.5) / 5, (y - 13.5) / 8);
          const on =
            digit === 1 ? x >= 13 && x <= 15 && y >= 5 && y <= 22 : digit === 0 ? r > 0.75 && r < 1.15 : (y >= 6 && y <= 8 && x >= 8 && x <= 20) || (y > 8 && y <= 22 && Math.abs(x - (20 - (y - 8) * 0.5)) <= 1.2);
          a[y * 28 + x] = on ? 1 : 0;
        }
      }
      return a;
    };
    const batch = tf.tensor([...draw(1), ...draw(0), ...draw(7)], [3, 28, 28]);
    const probs = predictData(model, batch)[0]!;
    batch.dispose();
    for (let i = 0; i < 3; i++) {
      const row = Array.from(probs.slice(i * 10, i * 10 + 10));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      expect(row.indexOf(Math.max(...row))).toBe([1, 0, 7][i]);
    }
  });

  it('16. dl4j_12net_mtcnn.h5 (Keras 2.2.0 functional, PReLU, any input size, 2 outputs) loads and runs', async () => {
    const file = path.join(kerasDir, 'dl4j_12net_mtcnn.h5');
    const model = await loadKerasH5(file);
    expect(model.inputs[0]!.shape).toEqual([null, null, null, 3]);
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, null, null, 2],
      [null, null, null, 4],
    ]);
    expect(model.countParams()).toBe(6632);
    expect(table(model).map(([n, c, , p]) => [n, c, p])).toEqual([
      ['input_2', 'InputLayer', 0],
      ['conv1', 'Conv2D', 280],
      ['PReLU1', 'PReLU', 10],
      ['max_pooling2d_2', 'MaxPooling2D', 0],
      ['conv2', 'Conv2D', 1456],
      ['PReLU2', 'PReLU', 16],
      ['conv3', 'Conv2D', 4640],
      ['PReLU3', 'PReLU', 32],
      ['conv4-1', 'Conv2D', 66],
      ['conv4-2', 'Conv2D', 132],
    ]);
    // the file keeps weights under "conv1_1/kernel:0" while the layer is conv1: matched by name
    expect(expectWeightsMatchFile(model, file)).toBe(13);
    for (const [size, cells] of [
      [12, 1],
      [24, 7],
    ]) {
      const x = tf.randomUniform([1, size!, size!, 3], -1, 1, 'float32', 3);
      const out = model.predict(x) as tf.Tensor[];
      expect(out.map((t) => t.shape)).toEqual([
        [1, cells, cells, 2],
        [1, cells, cells, 4],
      ]);
      expect(out.every((t) => (t.dataSync() as Float32Array).every(Number.isFinite))).toBe(true);
      tf.dispose([x, ...out]);
    }
  });

  it('17. dl4j_keras1_conv2d.h5 (Keras 1.2.2) is refused as Keras 1, saying how to re-save it', async () => {
    const file = path.join(kerasDir, 'dl4j_keras1_conv2d.h5');
    const err = await expectReject(loadKerasH5(file));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain(file);
    expect(err.message).toContain('Keras 1 files are not supported');
    expect(err.message).toContain('keras_version 1.2.2');
    expect(err.message).toContain("load_model('dl4j_keras1_conv2d.h5')");
    expect(err.message).toContain("model.save('dl4j_keras1_conv2d-keras2.h5')");
  });

  it('18. both real models round trip through saveKerasH5 unchanged', async () => {
    for (const name of ['dl4j_12net_mtcnn.h5', 'tensorspace_mnist_lenet.h5']) {
      const model = await loadKerasH5(path.join(kerasDir, name));
      const copy = path.join(dir, `copy-${name}`);
      await saveKerasH5(model, copy);
      const again = await loadKerasH5(copy);
      expect(again.getClassName()).toBe(model.getClassName());
      expect(table(again)).toEqual(table(model));
      expectBitwiseEqual(weightsOf(model), weightsOf(again));
    }
  });
});
