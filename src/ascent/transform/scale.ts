/** Random scale: zoom each image by a factor drawn uniformly from [min, max] (bilinear, about the centre). */
import { affine } from './affine.js';
import type { Transform } from './transform.js';

export function randomScale(min: number, max: number): Transform {
  return {
    name: `scale(${min}-${max})`,
    sample(shape, rngs) {
      return affine(
        shape,
        rngs.slice(0, shape.n).map((r) => {
          const s = min + (max - min) * r.next();
          return [1 / s, 0, 0, 1 / s] as const;
        }),
      );
    },
  };
}
