/**
 * Image priors subtracted from the objective (Lucid's regularisers): each returns its penalty per
 * batch image and the penalty's gradient with respect to the pixels. Penalties are means over the
 * image, so a weight means the same at every size.
 */
import type { ImageShape } from '../transform/transform.js';

export interface Penalty {
  values: Float32Array;
  gradient: Float32Array;
}

export type Regularizer = (image: Float32Array, shape: ImageShape) => Penalty;
