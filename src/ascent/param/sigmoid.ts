/**
 * The value range: Lucid maps the parameterised image through a sigmoid so pixels stay in (0, 1),
 * the range the U-Net was trained on (magnitude images scaled to [0, 1]), whatever the optimiser does.
 * Plain loops with an optional output buffer: these run on every pixel twice a step.
 */
export function sigmoid(logits: Float32Array, out: Float32Array = new Float32Array(logits.length)): Float32Array {
  for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]!));
  return out;
}

/** Chains d/d(pixels) back to d/d(logits): g * s * (1 - s), from the sigmoid's own output s. */
export function sigmoidBackward(pixels: Float32Array, gradient: Float32Array, out: Float32Array = new Float32Array(gradient.length)): Float32Array {
  for (let i = 0; i < gradient.length; i++) {
    const s = pixels[i]!;
    out[i] = gradient[i]! * s * (1 - s);
  }
  return out;
}

/** Logits whose sigmoid is `pixels` (clamped away from 0 and 1). */
export function logit(pixels: Float32Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const q = Math.min(Math.max(pixels[i]!, 1e-4), 1 - 1e-4);
    out[i] = Math.log(q / (1 - q));
  }
  return out;
}
