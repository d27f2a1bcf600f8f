/**
 * NumPy .npy files (format 1.0, little-endian float32, C order): what `numpy.load` opens directly.
 * Feature maps and attribution maps go out this way so notebook users need no reader of ours.
 */
import { writeFileAtomic } from './atomic.js';

/** The bytes of a .npy file holding `data` with `shape` (row-major, last axis fastest). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`npy: ${data.length} values for shape [${shape.join(', ')}]`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64 bytes.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const body = new Float32Array(out.buffer, 10 + header.length, data.length);
  // Float32Array uses the platform's byte order; every platform Node 20 runs on is little-endian.
  body.set(data);
  return out;
}

/** Reads a float32 .npy written by encodeNpy (or numpy.save of a float32 C-order array). */
export function decodeNpy(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + length));
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) throw new Error(`unsupported .npy header ${header.trim()}`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const start = 10 + length;
  // A copy: a Node Buffer may be a view into a shared pool at any offset.
  const data = new Float32Array(Uint8Array.prototype.slice.call(bytes, start).buffer);
  return { data, shape };
}

export async function writeNpy(file: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  await writeFileAtomic(file, encodeNpy(data, shape));
}
