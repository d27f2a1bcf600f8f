/**
 * The one seeded random generator (mulberry32) and its keyed streams. Every random draw in the project
 * comes from here: noise seeds, filter picks, dream jitter, phantoms and undersampling masks.
 *
 * Draws are keyed by (seed, purpose, index) rather than taken from one shared stream, so a filter's
 * starting image does not depend on which other filters run, in what batch, or on which worker: same
 * seed, same pixels. Only 32-bit integer arithmetic is used, so a seed gives the same stream everywhere.
 */
import { invalidParameterError } from './errors.js';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n) for a positive integer n. */
  int(n: number): number;
  /** Standard normal, mean 0 and variance 1 (Box-Muller; the second value of a pair is kept for the next call). */
  normal(): number;
}

/** 32-bit FNV-1a over a key's parts, mixed with the seed. */
export function hashKey(seed: number, ...parts: (string | number)[]): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (const part of parts) {
    const text = `${String(part)}\u0000`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

/**
 * A mulberry32 generator. The seed is reduced to 32 bits (`Math.floor(seed) >>> 0`), so seeds that
 * differ only in their fractional part, or by a multiple of 2^32, give the same stream.
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw invalidParameterError('seed', 'a finite number', seed);
  let state = Math.floor(seed) >>> 0;
  let spare: number | undefined;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => {
      if (!Number.isInteger(n) || n <= 0) throw invalidParameterError('n', 'a positive integer', n);
      return Math.floor(next() * n);
    },
    normal: () => {
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
    },
  };
}

/** A generator for one purpose: `keyedRng(seed, 'init', layer, filter)`. */
export function keyedRng(seed: number, ...parts: (string | number)[]): Rng {
  return createRng(hashKey(seed, ...parts));
}
