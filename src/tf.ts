/**
 * The single import point for TensorFlow.js. Everything in the project takes `tf` from here so
 * that backend selection (engine/backend.ts) and registered gradients act on one tfjs-core instance.
 */
import * as tf from '@tensorflow/tfjs';

// The "install the node backend for speed" banner is noise for a CLI that probes backends itself.
tf.enableProdMode();

export { tf };
export type Tensor = tf.Tensor;
export type LayersModel = tf.LayersModel;
