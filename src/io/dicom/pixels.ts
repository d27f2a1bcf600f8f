/** From pixel data bytes to samples: frames out of encapsulated fragments, native sample words, stored values. */
import type { Codec } from './syntax.js';

/** Split encapsulated fragments into frames: one each, all in one, or by codestream start markers. */
export function framesFromFragments(fragments: Uint8Array[], frames: number, codec: Codec): Uint8Array[] {
  if (fragments.length === frames) return fragments;
  const concat = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  if (frames === 1) return [concat(fragments)];
  const isStart = (f: Uint8Array) =>
    codec === 'jpeg2000' ? (f[0] === 0xff && f[1] === 0x4f && f[2] === 0xff && f[3] === 0x51) || (f[4] === 0x6a && f[5] === 0x50) : f[0] === 0xff && f[1] === 0xd8;
  if (codec !== 'rle') {
    const grouped: Uint8Array[][] = [];
    for (const f of fragments) {
      if (isStart(f) || grouped.length === 0) grouped.push([f]);
      else grouped[grouped.length - 1]!.push(f);
    }
    if (grouped.length === frames) return grouped.map(concat);
  }
  throw new Error(`encapsulated pixel data holds ${fragments.length} fragments for ${frames} frames and no offset table to group them`);
}

/** Unsigned container values -> stored values: shift to HighBit, keep BitsStored bits, sign-extend if signed. */
export function storedValue(pattern: number, bitsStored: number, signed: boolean): number {
  const m = 2 ** bitsStored;
  let v = ((pattern % m) + m) % m;
  if (signed && v >= m / 2) v -= m;
  return v;
}

export function nativeSamples(frame: Uint8Array, bitsAllocated: number, little: boolean, count: number): Float64Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out = new Float64Array(count);
  if (bitsAllocated === 8) for (let i = 0; i < count; i++) out[i] = frame[i]!;
  else if (bitsAllocated === 16) for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, little);
  else for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 4, little);
  return out;
}

export function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
