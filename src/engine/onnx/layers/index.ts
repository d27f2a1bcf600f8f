/**
 * Per-layer compilers: each tfjs-layers class maps to ONNX nodes for its forward pass and a `backward`
 * that emits its vector-Jacobian product (the gradient with respect to its inputs, given the gradient of
 * its output). One file per family; this table is the one place a class name meets its compiler, so
 * adding a layer is one compiler in its family's file plus one line here.
 */
import { emitActivation, activationLayer, eluLayer, leakyRelu, prelu, reluLayer, softmaxLayer, thresholdedRelu } from './activation.js';
import type { LayerCompiler } from './common.js';
import { conv2d, conv2dTranspose, convSettings, dense, depthwiseConv2d, separableConv2d } from './conv.js';
import { add, average, concatenate, multiply } from './merge.js';
import { batchNormalization } from './normalization.js';
import { averagePooling2d, globalAveragePooling2d, globalMaxPooling2d, maxPooling2d } from './pool.js';
import { identity } from './regularization.js';
import { cropping2d, flatten, permute, reshape, upSampling2d, zeroPadding2d } from './shape.js';

export type { EmitContext, Emission, Layer, LayerCompiler, LayerInput, Shape, Value } from './common.js';
export { internalAxis } from './common.js';
export { ACTIVATIONS } from './activation.js';
export { convSettings, emitActivation };

/** Compilers by tfjs-layers class name. */
export const LAYER_COMPILERS: Readonly<Record<string, LayerCompiler>> = Object.freeze({
  Conv2D: conv2d,
  Conv2DTranspose: conv2dTranspose,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Dense: dense,
  BatchNormalization: batchNormalization,
  MaxPooling2D: maxPooling2d,
  AveragePooling2D: averagePooling2d,
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  Concatenate: concatenate,
  Add: add,
  Average: average,
  Multiply: multiply,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  GlobalAveragePooling2D: globalAveragePooling2d,
  GlobalMaxPooling2D: globalMaxPooling2d,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  PReLU: prelu,
  ELU: eluLayer,
  Softmax: softmaxLayer,
  ThresholdedReLU: thresholdedRelu,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
});

export const SUPPORTED_LAYERS: readonly string[] = Object.freeze(['InputLayer', ...Object.keys(LAYER_COMPILERS)]);
