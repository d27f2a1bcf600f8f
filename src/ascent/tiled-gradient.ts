/**
 * Gradients of a whole image of any size, computed tile by tile so memory is bounded by the tile size.
 * Each tile is cut with a halo (context on every side, reflected at image borders) and only its core
 * is kept, so tiles meet without seams; the halo and tile origins are multiples of the model's pooling
 * factor so every tile sees the same pooling grid as the whole image would.
 */
import type { Engine, GradientNormalization, Objective } from '../engine/engine.js';
import { NORMALIZATION_EPSILON } from '../engine/engine.js';
import { crop, type Plane } from './resample.js';

export interface TileOptions {
  /** Core tile size in pixels (rounded down to the divisor). */
  tile: number;
  /** Context added on each side of a tile (rounded up to the divisor). */
  halo: number;
  /** Input sizes must be multiples of this (the model's total pooling factor). */
  divisor: number;
}

export interface TiledGradient {
  /** Objective of the whole image: the core-area-weighted mean of the tiles' objectives. */
  value: number;
  gradient: Float32Array;
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

interface Tile {
  /** The core: the pixels this tile's gradient is kept for. */
  x0: number;
  y0: number;
  cw: number;
  ch: number;
  /** The input: core plus halo, clipped at the image's edges. */
  tx: number;
  ty: number;
  tw: number;
  th: number;
}

/** The tiles covering an image whose sides are multiples of the divisor. */
function* tilesOf(width: number, height: number, options: TileOptions): Generator<Tile> {
  const d = options.divisor;
  if (width % d !== 0 || height % d !== 0) throw new Error(`tiled objectives need sides divisible by ${d}, got ${width}x${height}`);
  const core = Math.max(d, Math.floor(options.tile / d) * d);
  const halo = roundUp(options.halo, d);
  for (let y0 = 0; y0 < height; y0 += core) {
    for (let x0 = 0; x0 < width; x0 += core) {
      const cw = Math.min(core, width - x0);
      const ch = Math.min(core, height - y0);
      const tx = Math.max(0, x0 - halo);
      const ty = Math.max(0, y0 - halo);
      yield { x0, y0, cw, ch, tx, ty, tw: Math.min(width, x0 + cw + halo) - tx, th: Math.min(height, y0 + ch + halo) - ty };
    }
  }
}

function tileInput(image: Plane, t: Tile) {
  const whole = t.tx === 0 && t.ty === 0 && t.tw === image.width && t.th === image.height;
  const data = whole ? image.data : crop(image, t.tx, t.ty, t.tw, t.th).data;
  return { data, n: 1, height: t.th, width: t.tw, channels: image.channels };
}

/**
 * Raw (un-normalised) gradient of the objective over the whole image. The image's sides must be
 * multiples of the divisor (pad it first). Halos are clipped at the image's edges, so border tiles see
 * the same zero padding as the whole image would, and with a halo wider than the model's receptive
 * field the tiled gradient equals the untiled one.
 */
export async function tiledGradient(engine: Engine, image: Plane, objective: Objective, options: TileOptions): Promise<TiledGradient> {
  const { width, height, channels } = image;
  const gradient = new Float32Array(image.data.length);
  let value = 0;
  for (const t of tilesOf(width, height, options)) {
    const { values, gradient: g } = await engine.gradient(tileInput(image, t), objective, 'none');
    // Objectives are means over the tile: weight by tile area so the sum is the whole image's mean.
    const weight = (t.tw * t.th) / (width * height);
    value += (values[0]! * t.cw * t.ch) / (width * height);
    for (let j = 0; j < t.ch; j++) {
      for (let i = 0; i < t.cw; i++) {
        const s = ((t.y0 - t.ty + j) * t.tw + t.x0 - t.tx + i) * channels;
        const d = ((t.y0 + j) * width + t.x0 + i) * channels;
        for (let c = 0; c < channels; c++) gradient[d + c] = g[s + c]! * weight;
      }
    }
  }
  return { value, gradient };
}

/** The same objective value as tiledGradient reports, from forward passes only. */
export async function tiledValue(engine: Engine, image: Plane, objective: Objective, options: TileOptions): Promise<number> {
  let value = 0;
  for (const t of tilesOf(image.width, image.height, options)) {
    const values = await engine.evaluate(tileInput(image, t), objective);
    value += (values[0]! * t.cw * t.ch) / (image.width * image.height);
  }
  return value;
}

/**
 * Scales a gradient by its RMS, standard deviation or mean absolute value (the engine's rule, whole
 * image), plus `epsilon` (default the seed's 1e-5; the dream passes DREAM_EPSILON).
 */
export function normalizeInPlace(g: Float32Array, normalize: GradientNormalization, epsilon = NORMALIZATION_EPSILON): Float32Array {
  if (normalize === 'none') return g;
  let stat: number;
  if (normalize === 'rms') {
    let s = 0;
    for (const v of g) s += v * v;
    stat = Math.sqrt(s / g.length);
  } else if (normalize === 'meanabs') {
    let s = 0;
    for (const v of g) s += Math.abs(v);
    stat = s / g.length;
  } else {
    let mean = 0;
    for (const v of g) mean += v;
    mean /= g.length;
    let s = 0;
    for (const v of g) s += (v - mean) * (v - mean);
    stat = Math.sqrt(s / g.length);
  }
  const k = 1 / (stat + epsilon);
  for (let i = 0; i < g.length; i++) g[i]! *= k;
  return g;
}
