/**
 * Random rotation by up to `degrees` either way (bilinear, about the centre). Off in the `lucid`
 * recipe by default: this model's filters are read for their orientation, and rotating the input
 * during ascent would blur exactly that.
 */
import { affine } from './affine.js';
import type { Transform } from './transform.js';

export function randomRotate(degrees: number): Transform {
  return {
    name: `rotate(${degrees})`,
    sample(shape, rngs) {
      return affine(
        shape,
        rngs.slice(0, shape.n).map((r) => {
          const a = ((2 * r.next() - 1) * degrees * Math.PI) / 180;
          const cos = Math.cos(a);
          const sin = Math.sin(a);
          return [cos, -sin, sin, cos] as const;
        }),
      );
    },
  };
}
