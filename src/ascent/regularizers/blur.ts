/**
 * Blur (Lucid's blur_input_each_step): penalty 0.5 * mean (x - stop_gradient(blur(x)))^2 with a 3x3
 * box blur, whose gradient (x - blur(x)) / size nudges the image towards its own blurred copy.
 */
import type { Penalty } from './regularizer.js';
import type { ImageShape } from '../transform/transform.js';

export function boxBlur3(image: Float32Array, shape: ImageShape): Float32Array {
  const { n, height: h, width: w, channels: c } = shape;
  const out = new Float32Array(image.length);
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          let sum = 0;
          let count = 0;
          for (let dy = -1; dy <= 1; dy++) {
            const yy = y + dy;
            if (yy < 0 || yy >= h) continue;
            for (let dx = -1; dx <= 1; dx++) {
              const xx = x + dx;
              if (xx < 0 || xx >= w) continue;
              sum += image[base + (yy * w + xx) * c + k]!;
              count++;
            }
          }
          out[base + (y * w + x) * c + k] = sum / count;
        }
      }
    }
  }
  return out;
}

export function blur(image: Float32Array, shape: ImageShape): Penalty {
  const per = shape.height * shape.width * shape.channels;
  const blurred = boxBlur3(image, shape);
  const values = new Float32Array(shape.n);
  const gradient = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const d = image[i]! - blurred[i]!;
    values[Math.floor(i / per)] += (0.5 * d * d) / per;
    gradient[i] = d / per;
  }
  return { values, gradient };
}
