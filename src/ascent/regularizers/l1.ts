/** L1: mean |x - centre|, pulls pixels towards a neutral grey (Lucid's L1 with a constant). */
import type { Penalty } from './regularizer.js';
import type { ImageShape } from '../transform/transform.js';

export function l1(centre: number) {
  return (image: Float32Array, shape: ImageShape): Penalty => {
    const per = shape.height * shape.width * shape.channels;
    const values = new Float32Array(shape.n);
    const gradient = new Float32Array(image.length);
    for (let i = 0; i < image.length; i++) {
      const d = image[i]! - centre;
      values[Math.floor(i / per)] += Math.abs(d) / per;
      gradient[i] = Math.sign(d) / per;
    }
    return { values, gradient };
  };
}
