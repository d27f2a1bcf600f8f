/** The transforms a recipe can name, in the order they apply. */
export { compose, fromTaps, shapeSize, type AppliedTransform, type ImageShape, type Taps, type Transform } from './transform.js';
export { jitter, roll } from './jitter.js';
export { pad, reflectIndex } from './pad.js';
export { randomScale } from './scale.js';
export { randomRotate } from './rotate.js';
export { affine, type Matrix2 } from './affine.js';
