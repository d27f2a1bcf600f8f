/** Colormaps as 256-entry RGB lookup tables; viridis is the default because matplotlib's is. */
import { interpolateMagma, interpolateRdBu, interpolateViridis } from 'd3-scale-chromatic';
import { unknownNameError } from '../errors.js';

export type Lut = Uint8Array; // 256 * 3

function lutFrom(interpolate: (t: number) => string): Lut {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const hex = interpolate(i / 255);
    const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    const rgb = match ? match.slice(1).map((h) => parseInt(h, 16)) : (hex.match(/\d+/g) ?? ['0', '0', '0']).map(Number);
    lut.set(rgb, i * 3);
  }
  return lut;
}

const BUILDERS: Readonly<Record<string, () => Lut>> = Object.freeze({
  viridis: () => lutFrom(interpolateViridis),
  magma: () => lutFrom(interpolateMagma),
  /** Diverging, for signed maps (attributions): blue negative, white zero, red positive. */
  rdbu: () => lutFrom((t) => interpolateRdBu(1 - t)),
  gray: () => lutFrom((t) => {
    const v = Math.round(t * 255).toString(16).padStart(2, '0');
    return `#${v}${v}${v}`;
  }),
});

export const COLORMAPS = Object.freeze(Object.keys(BUILDERS));
const cache = new Map<string, Lut>();

export function colormap(name: string): Lut {
  const builder = BUILDERS[name];
  if (!builder) throw unknownNameError('colormap', name, COLORMAPS);
  let lut = cache.get(name);
  if (!lut) {
    lut = builder();
    cache.set(name, lut);
  }
  return lut;
}
