/** Total variation: mean |x[y, x+1] - x[y, x]| + |x[y+1, x] - x[y, x]|, discourages pixel-scale noise. */
import type { Penalty } from './regularizer.js';
import type { ImageShape } from '../transform/transform.js';

export function totalVariation(image: Float32Array, shape: ImageShape): Penalty {
  const { n, height: h, width: w, channels: c } = shape;
  const per = h * w * c;
  const values = new Float32Array(n);
  const gradient = new Float32Array(image.length);
  for (let b = 0; b < n; b++) {
    const base = b * per;
    let sum = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          const i = base + (y * w + x) * c + k;
          const neighbours = [x + 1 < w ? i + c : -1, y + 1 < h ? i + w * c : -1];
          for (const j of neighbours) {
            if (j < 0) continue;
            const d = image[j]! - image[i]!;
            sum += Math.abs(d);
            const s = Math.sign(d) / per;
            gradient[j] = gradient[j]! + s;
            gradient[i] = gradient[i]! - s;
          }
        }
      }
    }
    values[b] = sum / per;
  }
  return { values, gradient };
}
