import { describe, expect, it } from 'vitest';
import * as activation from '../src/engine/onnx/layers/activation.js';
import * as conv from '../src/engine/onnx/layers/conv.js';
import { LAYER_COMPILERS, SUPPORTED_LAYERS } from '../src/engine/onnx/layers/index.js';
import * as merge from '../src/engine/onnx/layers/merge.js';
import * as normalization from '../src/engine/onnx/layers/normalization.js';
import * as pool from '../src/engine/onnx/layers/pool.js';
import * as regularization from '../src/engine/onnx/layers/regularization.js';
import * as shape from '../src/engine/onnx/layers/shape.js';

/** Which family file each Keras class's compiler lives in: a reader finds a layer from the tree. */
const FAMILIES: Record<string, Record<string, unknown>> = {
  Conv2D: conv,
  Conv2DTranspose: conv,
  DepthwiseConv2D: conv,
  SeparableConv2D: conv,
  Dense: conv,
  BatchNormalization: normalization,
  MaxPooling2D: pool,
  AveragePooling2D: pool,
  GlobalAveragePooling2D: pool,
  GlobalMaxPooling2D: pool,
  UpSampling2D: shape,
  ZeroPadding2D: shape,
  Cropping2D: shape,
  Flatten: shape,
  Reshape: shape,
  Permute: shape,
  Concatenate: merge,
  Add: merge,
  Average: merge,
  Multiply: merge,
  Activation: activation,
  ReLU: activation,
  LeakyReLU: activation,
  PReLU: activation,
  ELU: activation,
  Softmax: activation,
  ThresholdedReLU: activation,
};

describe('ONNX layer compilers: one file per family, one table', () => {
  it('every compiler in the table is exported by its family file', () => {
    for (const [cls, family] of Object.entries(FAMILIES)) {
      expect(Object.values(family), cls).toContain(LAYER_COMPILERS[cls]);
    }
    for (const [cls, compiler] of Object.entries(LAYER_COMPILERS)) {
      if (FAMILIES[cls]) continue;
      expect(Object.values(regularization), `${cls} is neither in a family above nor an inference identity`).toContain(compiler);
    }
  });

  it('the table is frozen and SUPPORTED_LAYERS is its keys plus InputLayer', () => {
    expect(Object.isFrozen(LAYER_COMPILERS)).toBe(true);
    expect([...SUPPORTED_LAYERS].sort()).toEqual(['InputLayer', ...Object.keys(LAYER_COMPILERS)].sort());
  });
});
