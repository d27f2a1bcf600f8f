/**
 * The value range: Lucid maps the parameterised image through a sigmoid so pixels stay in (0, 1),
 * the range the U-Net was trained on (magnitude images scaled to [0, 1]), whatever the optimiser does.
 */
export function sigmoid(logits: Float32Array): Float32Array {
  return Float32Array.from(logits, (v) => 1 / (1 + Math.exp(-v)));
}

/** Chains d/d(pixels) back to d/d(logits): g * s * (1 - s), from the sigmoid's own output s. */
export function sigmoidBackward(pixels: Float32Array, gradient: Float32Array): Float32Array {
  return Float32Array.from(gradient, (g, i) => g * pixels[i]! * (1 - pixels[i]!));
}

/** Logits whose sigmoid is `pixels` (clamped away from 0 and 1). */
export function logit(pixels: Float32Array): Float32Array {
  return Float32Array.from(pixels, (p) => {
    const q = Math.min(Math.max(p, 1e-4), 1 - 1e-4);
    return Math.log(q / (1 - q));
  });
}
