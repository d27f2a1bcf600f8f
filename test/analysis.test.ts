import { describe, expect, it } from 'vitest';
import { stripeEnergy } from '../src/ascent/analysis.js';

function stripes(width: number, height: number, fx: number, fy: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = Math.cos((2 * Math.PI * (fx * x)) / width + (2 * Math.PI * (fy * y)) / height);
  return out;
}

describe('stripe energy', () => {
  it('puts vertical stripes (varying along x) in alongX, horizontal in alongY, diagonals in neither', () => {
    const v = stripeEnergy(stripes(32, 32, 5, 0), 32, 32)!;
    expect(v.alongX).toBeCloseTo(1, 6);
    expect(v.alongY).toBeCloseTo(0, 6);
    const h = stripeEnergy(stripes(32, 16, 0, 3), 32, 16)!;
    expect(h.alongY).toBeCloseTo(1, 6);
    const d = stripeEnergy(stripes(32, 32, 4, 4), 32, 32)!;
    expect(d.alongX + d.alongY).toBeCloseTo(0, 6);
  });

  it('ignores the mean and refuses sizes the FFT cannot take', () => {
    const img = stripes(16, 16, 2, 0).map((v) => v + 100);
    expect(stripeEnergy(img, 16, 16)!.alongX).toBeCloseTo(1, 6);
    expect(stripeEnergy(new Float32Array(24 * 24), 24, 24)).toBeUndefined();
  });
});
