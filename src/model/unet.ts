/**
 * The seed's U-Net (the blog post in ../shared/seed; layer table in docs/ARCHITECTURE.md, "The model"), with the exact layer names of its Keras summary so users can compare
 * our tables and sheets with the blog post. Auto-generated Keras names (input_3, max_pooling2d_5, ...)
 * are kept too: they are what the seed's `model.summary()` printed.
 */
import { tf, type LayersModel } from '../tf.js';

export interface UNetOptions {
  /** Height and width; null for any size divisible by 8 (the net is fully convolutional). */
  size?: number | null;
  channels?: number;
  /** Seed of the fixed initialisation used until trained weights are loaded. */
  seed?: number;
}

/** The seed's seven convolution layers shown in its contact sheets, in its order. */
export const SEED_LAYERS = Object.freeze(['dconv64', 'dconv128', 'dconv256', 'conv512', 'uconv256', 'uconv128', 'uconv64']);

export const UNET_INIT_SEED = 20190218; // the seed post's date: any fixed value works, this one is memorable

export function buildUNet(options: UNetOptions = {}): LayersModel {
  const size = options.size === undefined ? 128 : options.size;
  const channels = options.channels ?? 1;
  const seed = options.seed ?? UNET_INIT_SEED;
  let layerSeed = seed;
  const L = tf.layers;

  const conv = (x: tf.SymbolicTensor, filters: number, name: string, activation: 'relu' | 'linear' = 'relu') =>
    L.conv2d({
      filters,
      kernelSize: 3,
      padding: 'same',
      activation,
      name,
      kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed++ }),
    }).apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor, name: string) => L.batchNormalization({ name }).apply(x) as tf.SymbolicTensor;
  const pool = (x: tf.SymbolicTensor, name: string) => L.maxPooling2d({ poolSize: 2, name }).apply(x) as tf.SymbolicTensor;
  const up = (x: tf.SymbolicTensor, name: string) => L.upSampling2d({ size: [2, 2], name }).apply(x) as tf.SymbolicTensor;
  const cat = (a: tf.SymbolicTensor, b: tf.SymbolicTensor, name: string) =>
    L.concatenate({ name }).apply([a, b]) as tf.SymbolicTensor;

  const input = tf.input({ shape: [size, size, channels], name: 'input_3' });
  const c64 = bn(conv(input, 64, 'dconv64'), 'conv64_1');
  const c128 = bn(conv(pool(c64, 'max_pooling2d_5'), 128, 'dconv128'), 'conv128_1');
  const c256 = bn(conv(pool(c128, 'max_pooling2d_6'), 256, 'dconv256'), 'conv256_1');
  const c512 = conv(pool(c256, 'code'), 512, 'conv512');
  const u256 = bn(conv(cat(up(c512, 'up_sampling2d_7'), c256, 'concatenate_7'), 128, 'uconv256'), 'conv512_2');
  const u128 = bn(conv(cat(up(u256, 'up_sampling2d_8'), c128, 'concatenate_8'), 128, 'uconv128'), 'conv128_2');
  const u64 = bn(conv(cat(up(u128, 'up_sampling2d_9'), c64, 'concatenate_9'), 64, 'uconv64'), 'conv64_2');
  const e64 = bn(conv(u64, 64, 'econv64'), 'conv64_3');
  const output = conv(e64, 1, 'final_conv1', 'linear');
  return tf.model({ inputs: input, outputs: output, name: 'unet' });
}
