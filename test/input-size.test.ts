import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf, type LayersModel } from '../src/tf.js';
import { checkInputSize, inputSizeMessage, sizeMultiple } from '../src/model/input-size.js';
import { buildUNet } from '../src/model/unet.js';
import { withInputSize } from '../src/model/resize.js';
import { planVisualization } from '../src/ascent/visualize.js';
import { createEngine } from '../src/engine/select.js';

type T = tf.SymbolicTensor;
const conv = (filters: number, strides: number, padding: 'same' | 'valid', name: string, kernelSize = 3) =>
  tf.layers.conv2d({ filters, kernelSize, strides, padding, name, kernelInitializer: tf.initializers.glorotUniform({ seed: filters + strides }) });

/** The classic Keras-GAN MNIST discriminator: three stride-2 'same' convolutions, a ZeroPadding, a Dense head. */
function mnistDiscriminator(): LayersModel {
  const x = tf.input({ shape: [28, 28, 1] });
  let y = conv(8, 2, 'same', 'd_conv1').apply(x) as T; // 14
  y = tf.layers.leakyReLU({ alpha: 0.2 }).apply(y) as T;
  y = tf.layers.dropout({ rate: 0.25 }).apply(y) as T;
  y = conv(16, 2, 'same', 'd_conv2').apply(y) as T; // 7
  y = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'd_pad' }).apply(y) as T; // 8
  y = tf.layers.batchNormalization({ name: 'd_bn' }).apply(y) as T;
  y = conv(32, 2, 'same', 'd_conv3').apply(y) as T; // 4
  y = tf.layers.flatten().apply(y) as T;
  y = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'd_out' }).apply(y) as T;
  return tf.model({ inputs: x, outputs: y });
}

/** Strided 'same' convolutions and no merge: every size works. */
function stridedSame(): LayersModel {
  const x = tf.input({ shape: [null, null, 1] });
  let y = conv(4, 2, 'same', 's1').apply(x) as T;
  y = conv(4, 2, 'same', 's2').apply(y) as T;
  y = conv(4, 2, 'same', 's3').apply(y) as T;
  return tf.model({ inputs: x, outputs: y });
}

/** 'valid' convolutions: any size at least the receptive field (5 + 2 = 7). */
function validConvs(): LayersModel {
  return tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [null, null, 1], filters: 2, kernelSize: 5, name: 'v1' }), tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'v2' })] });
}

/** A pool, a 'valid' upsampling path and a skip merged by Add: sizes where both branches agree. */
function poolAddSkip(): LayersModel {
  const x = tf.input({ shape: [null, null, 2] });
  const down = tf.layers.maxPooling2d({ poolSize: 3, name: 'p3' }).apply(x) as T;
  const up = tf.layers.upSampling2d({ size: [3, 3], name: 'u3' }).apply(down) as T;
  const y = tf.layers.add({ name: 'skip_add' }).apply([x, up]) as T;
  return tf.model({ inputs: x, outputs: y });
}

/** Global pooling then Dense: the head does not depend on the size. */
function globalHead(): LayersModel {
  const x = tf.input({ shape: [32, 32, 1] });
  let y = conv(4, 2, 'same', 'g1').apply(x) as T;
  y = tf.layers.globalAveragePooling2d({}).apply(y) as T;
  y = tf.layers.dense({ units: 3 }).apply(y) as T;
  return tf.model({ inputs: x, outputs: y });
}

describe('input sizes derived from the layers', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('a stack of strided same convolutions takes any size', () => {
    const m = stridedSame();
    for (const n of [1, 7, 28, 33, 100, 129]) expect(checkInputSize(m, n), String(n)).toEqual({ ok: true });
    expect(sizeMultiple(m)).toBe(1);
  });

  it('the MNIST discriminator takes its own 28 and nothing else; 32 says why and offers 28', () => {
    const m = mnistDiscriminator();
    expect(checkInputSize(m, 28)).toEqual({ ok: true });
    const at32 = checkInputSize(m, 32);
    expect(at32).toMatchObject({ ok: false, nearest: { height: 28, width: 28 } });
    // 27 reaches the Flatten at the same 4x4 but is still not the model's size
    expect(checkInputSize(m, 27).ok).toBe(false);
    expect(inputSizeMessage(32, at32 as Exclude<typeof at32, { ok: true }>)).toMatch(/^size 32 cannot be used with this model: .*Flatten.* \(try 28\)$/);
  });

  it('the U-Net takes multiples of 8; 100 names a concatenation and offers 104', () => {
    const m = buildUNet({ size: null, seed: 1 });
    for (const n of [8, 16, 128, 136]) expect(checkInputSize(m, n), String(n)).toEqual({ ok: true });
    for (const n of [4, 12, 100, 127]) expect(checkInputSize(m, n).ok, String(n)).toBe(false);
    const r = checkInputSize(m, 100);
    expect(r).toMatchObject({ ok: false, nearest: { height: 104, width: 104 } });
    expect((r as { reason: string }).reason).toMatch(/\(Concatenate\) joins inputs of side \d+ and \d+, which must be equal/);
    expect(checkInputSize(m, { height: 128, width: 100 })).toMatchObject({ ok: false, nearest: { height: 128, width: 104 } });
    expect(sizeMultiple(m)).toBe(8);
  });

  it('valid convolutions take any size from their receptive field on', () => {
    const m = validConvs();
    expect(checkInputSize(m, 7)).toEqual({ ok: true });
    expect(checkInputSize(m, 50)).toEqual({ ok: true });
    const r = checkInputSize(m, 5);
    expect(r).toMatchObject({ ok: false, nearest: { height: 7, width: 7 } });
    expect((r as { reason: string }).reason).toContain('layer "v2" (Conv2D) needs side >= 3');
  });

  it('a merge after a pool and an upsampling by 3 needs multiples of 3', () => {
    const m = poolAddSkip();
    expect(checkInputSize(m, 9)).toEqual({ ok: true });
    expect(checkInputSize(m, 10)).toMatchObject({ ok: false, nearest: { height: 9, width: 9 } });
    expect(checkInputSize(m, 11)).toMatchObject({ ok: false, nearest: { height: 12, width: 12 } });
    expect(sizeMultiple(m)).toBe(3);
  });

  it('an input without a channel axis reshaped to an image (LeNet style) takes its own size', () => {
    const x = tf.input({ shape: [28, 28] });
    let y = tf.layers.reshape({ targetShape: [28, 28, 1], name: 'to_image' }).apply(x) as T;
    y = conv(4, 1, 'same', 'l1').apply(y) as T;
    y = tf.layers.flatten().apply(y) as T;
    const m = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 10 }).apply(y) as T });
    expect(checkInputSize(m, 28)).toEqual({ ok: true });
    const r = checkInputSize(m, 32);
    expect(r).toMatchObject({ ok: false, nearest: { height: 28, width: 28 } });
    expect(inputSizeMessage(32, r as Exclude<typeof r, { ok: true }>)).toBe('size 32 cannot be used with this model: layer "to_image" (Reshape) ties the model to the side it was built with, 28, not 32 (try 28)');
  });

  it('a global-pooling head takes any size, and the model is rebuilt for it', async () => {
    const m = globalHead();
    expect(checkInputSize(m, 57)).toEqual({ ok: true });
    const rebuilt = await withInputSize(m, 57, 40);
    expect(rebuilt.inputs[0]!.shape).toEqual([null, 57, 40, 1]);
    const x = tf.randomUniform([1, 57, 40, 1], 0, 1, 'float32', 2);
    expect((rebuilt.predict(x) as tf.Tensor).shape).toEqual([1, 3]);
    await expect(withInputSize(mnistDiscriminator(), 32, 32)).rejects.toThrow(/^size 32x32 cannot be used with this model: .*\(try 28x28\)$/);
  });

  it('the discriminator can be visualised at 28 on both engines', async () => {
    const m = mnistDiscriminator();
    const plan = planVisualization(m, { layers: ['d_conv2'], filters: { kind: 'list', indices: [0, 1] }, seed: 1, size: 28 });
    expect(plan[0]!.filters).toEqual([0, 1]);
    expect(() => planVisualization(m, { layers: ['d_conv2'], filters: { kind: 'list', indices: [0] }, seed: 1, size: 32 })).toThrow(/size 32 cannot be used with this model: .*\(try 28\)/);
    for (const backend of ['onnx', 'wasm'] as const) {
      const { engine } = await createEngine(m, backend);
      expect(engine.info.engine).toBe(backend === 'onnx' ? 'onnx' : 'tfjs');
      const image = Float32Array.from({ length: 28 * 28 }, (_, i) => ((i * 7919) % 97) / 97);
      const r = await engine.gradient({ data: image, n: 1, height: 28, width: 28, channels: 1 }, { kind: 'filter', layer: 'd_conv3', filters: [5] }, 'none');
      expect(Number.isFinite(r.values[0]), backend).toBe(true);
      expect(r.gradient).toHaveLength(28 * 28);
      expect(Math.max(...Array.from(r.gradient, Math.abs)), backend).toBeGreaterThan(0);
      engine.dispose();
    }
  });
});
