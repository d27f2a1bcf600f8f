/**
 * The two concept masks a filter is compared with, and the unit's own mask (network dissection,
 * Bau et al. 2017): its activation map upsampled bilinearly to the image and thresholded at the
 * unit's top quantile over the whole data set.
 */

/** |zero-filled - target| > threshold: where undersampling put (or took away) signal. */
export function aliasingMask(input: Float32Array, target: Float32Array, threshold: number): Uint8Array {
  const mask = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) mask[i] = Math.abs(input[i]! - target[i]!) > threshold ? 1 : 0;
  return mask;
}

/**
 * Anatomy edges of the target: central-difference gradient magnitude above a threshold. A step of
 * height h between flat regions gives h/2 on the two pixels beside it, so threshold t marks edges of
 * contrast above 2t.
 */
export function edgeMask(target: Float32Array, size: number, threshold: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  const at = (x: number, y: number) => target[Math.min(size - 1, Math.max(0, y)) * size + Math.min(size - 1, Math.max(0, x))]!;
  const t2 = threshold * threshold;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const gx = (at(x + 1, y) - at(x - 1, y)) / 2;
      const gy = (at(x, y + 1) - at(x, y - 1)) / 2;
      mask[y * size + x] = gx * gx + gy * gy > t2 ? 1 : 0;
    }
  }
  return mask;
}

export function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i]!;
  return n;
}

/** Source index pairs and weights of half-pixel-centred bilinear resampling from `from` to `to` samples. */
export interface Axis {
  i0: Int32Array;
  i1: Int32Array;
  w: Float32Array;
}

export function bilinearAxis(from: number, to: number): Axis {
  const i0 = new Int32Array(to);
  const i1 = new Int32Array(to);
  const w = new Float32Array(to);
  const scale = from / to;
  for (let x = 0; x < to; x++) {
    const s = Math.min(from - 1, Math.max(0, (x + 0.5) * scale - 0.5));
    i0[x] = Math.floor(s);
    i1[x] = Math.min(from - 1, i0[x]! + 1);
    w[x] = s - i0[x]!;
  }
  return { i0, i1, w };
}

export interface Overlap {
  /** Pixels of the unit's mask. */
  unit: number;
  /** |unit mask AND concept mask| for each concept mask. */
  intersections: number[];
}

/**
 * Upsamples a `side` x `side` activation plane to `size` x `size` (bilinear), thresholds it (> t) and
 * counts its pixels and its overlap with each concept mask, without materialising the mask.
 */
export function overlapAbove(plane: Float32Array, side: number, size: number, t: number, axis: Axis, concepts: Uint8Array[]): Overlap {
  const intersections = concepts.map(() => 0);
  let unit = 0;
  // The rows and columns of the source pixels above t: a bilinear value is a convex combination of
  // its 2x2 source block, so it exceeds t only where the block holds such a pixel.
  let r0 = side;
  let r1 = -1;
  let c0 = side;
  let c1 = -1;
  for (let r = 0; r < side; r++) {
    const row = r * side;
    for (let c = 0; c < side; c++) {
      if (plane[row + c]! > t) {
        if (r < r0) r0 = r;
        r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
    }
  }
  if (r1 < 0) return { unit, intersections };
  const k = concepts.length;
  if (side === size) {
    for (let y = r0; y <= r1; y++) {
      for (let x = c0; x <= c1; x++) {
        const p = y * size + x;
        if (plane[p]! > t) {
          unit++;
          for (let c = 0; c < k; c++) intersections[c]! += concepts[c]![p]!;
        }
      }
    }
    return { unit, intersections };
  }
  const { i0, i1, w } = axis;
  for (let y = 0; y < size; y++) {
    if (i1[y]! < r0) continue;
    if (i0[y]! > r1) break;
    const a0 = i0[y]! * side;
    const a1 = i1[y]! * side;
    const wy = w[y]!;
    for (let x = 0; x < size; x++) {
      if (i1[x]! < c0) continue;
      if (i0[x]! > c1) break;
      const a = i0[x]!;
      const b = i1[x]!;
      const wx = w[x]!;
      const top = plane[a0 + a]! + wx * (plane[a0 + b]! - plane[a0 + a]!);
      const bottom = plane[a1 + a]! + wx * (plane[a1 + b]! - plane[a1 + a]!);
      if (top + wy * (bottom - top) > t) {
        unit++;
        const p = y * size + x;
        for (let c = 0; c < k; c++) intersections[c]! += concepts[c]![p]!;
      }
    }
  }
  return { unit, intersections };
}

/** The plane upsampled to size x size (for the sheet). */
export function upsample(plane: Float32Array, side: number, size: number): Float32Array {
  if (side === size) return Float32Array.from(plane);
  const axis = bilinearAxis(side, size);
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r0 = axis.i0[y]! * side;
      const r1 = axis.i1[y]! * side;
      const a = axis.i0[x]!;
      const b = axis.i1[x]!;
      const top = plane[r0 + a]! + axis.w[x]! * (plane[r0 + b]! - plane[r0 + a]!);
      const bottom = plane[r1 + a]! + axis.w[x]! * (plane[r1 + b]! - plane[r1 + a]!);
      out[y * size + x] = top + axis.w[y]! * (bottom - top);
    }
  }
  return out;
}

/**
 * The k-th largest value of a stream (exact): keeps at most a few k candidates, compacting to the
 * top k whenever the buffer fills. With k = ceil((1 - q) * count) it is network dissection's T_k.
 */
export class TopK {
  private buf: Float32Array;
  private len = 0;
  private cutoff = -Infinity;
  constructor(readonly k: number) {
    this.buf = new Float32Array(Math.max(16, 4 * k));
  }

  add(values: Float32Array): void {
    const cutoff = this.cutoff;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v > cutoff) {
        if (this.len === this.buf.length) this.compact();
        this.buf[this.len++] = v;
      }
    }
  }

  private compact(): void {
    this.buf.subarray(0, this.len).sort();
    const keep = Math.min(this.k, this.len);
    this.buf.copyWithin(0, this.len - keep, this.len);
    this.len = keep;
    // Later values at or below the k-th largest so far cannot change the k-th largest.
    this.cutoff = this.buf[0]!;
  }

  /** The k-th largest value seen (the smallest value when fewer than k were seen). */
  value(): number {
    if (this.len === 0) return -Infinity;
    const sorted = Float32Array.from(this.buf.subarray(0, this.len)).sort();
    return sorted[Math.max(0, this.len - this.k)]!;
  }
}
