/**
 * A small seeded pseudo-random generator (mulberry32) for phantoms and undersampling masks.
 * Same seed, same stream, on every platform: it uses only 32-bit integer arithmetic.
 */

import { invalidParameterError } from '../errors.js';

/**
 * The randomness the MRI helpers need. Structural: any object with these three methods works
 * (for example another module's seeded generator).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal, mean 0 and variance 1 (Box-Muller). */
  normal(): number;
  /** Uniform integer in [0, n) for a positive integer n. */
  int(n: number): number;
}

/**
 * A mulberry32 generator. The seed is reduced to 32 bits (`Math.floor(seed) >>> 0`), so seeds that
 * differ only in their fractional part, or by a multiple of 2^32, give the same stream.
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw invalidParameterError('seed', 'a finite number', seed);
  }
  let state = Math.floor(seed) >>> 0;
  let spare: number | undefined;

  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const normal = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    // 1 - next() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - next()));
    const angle = 2 * Math.PI * next();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw invalidParameterError('n', 'a positive integer', n);
    return Math.floor(next() * n);
  };

  return { next, normal, int };
}
