/**
 * A light walk over a file's elements, independent of dcmjs: dcmjs fills a truncated value with zeros, so
 * truncation (and where the pixel data sits) is found here.
 */
import { DEFLATED_LE, EXPLICIT_BE, IMPLICIT_LE } from './syntax.js';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

export interface Scan {
  transferSyntaxUID?: string;
  pixelData?: { valueOffset: number; length: number };
  /** Why the file is cut short, if it is. */
  truncated?: string;
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

class Walker {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  header(at: number, explicit: boolean, little: boolean) {
    const { view, bytes } = this;
    if (at + 8 > bytes.length) return undefined;
    const group = view.getUint16(at, little);
    const element = view.getUint16(at + 2, little);
    if (group === 0xfffe || !explicit) return { group, element, vr: '', length: view.getUint32(at + 4, little), size: 8 };
    const vr = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!);
    if (LONG_VRS.has(vr)) {
      if (at + 12 > bytes.length) return undefined;
      return { group, element, vr, length: view.getUint32(at + 8, little), size: 12 };
    }
    return { group, element, vr, length: view.getUint16(at + 6, little), size: 8 };
  }

  /** Skip the items of an undefined-length sequence (or encapsulated pixel data); the offset after its delimiter. */
  skipSequence(at: number, explicit: boolean, little: boolean, depth: number): number {
    if (depth > 32) throw new Error('sequences nested too deeply');
    for (;;) {
      const h = this.header(at, false, little);
      if (!h) throw new Error(`the file ends inside a sequence at byte ${at}`);
      if (h.group !== 0xfffe) throw new Error(`unexpected element (${hex4(h.group)},${hex4(h.element)}) inside a sequence at byte ${at}`);
      at += 8;
      if (h.element === 0xe0dd) return at;
      if (h.length === UNDEFINED) at = this.skipItem(at, explicit, little, depth + 1);
      else at += h.length;
    }
  }

  private skipItem(at: number, explicit: boolean, little: boolean, depth: number): number {
    for (;;) {
      const h = this.header(at, explicit, little);
      if (!h) throw new Error(`the file ends inside a sequence item at byte ${at}`);
      if (h.group === 0xfffe && h.element === 0xe00d) return at + 8;
      at += h.size;
      if (h.length === UNDEFINED) at = this.skipSequence(at, h.vr === 'UN' ? false : explicit, h.vr === 'UN' ? true : little, depth + 1);
      else at += h.length;
    }
  }
}

export function scanFile(bytes: Uint8Array): Scan {
  const walker = new Walker(bytes);
  let at = 132;
  let transferSyntaxUID: string | undefined;
  let metaEnd: number | undefined;
  // File meta information: always Explicit VR Little Endian, group 0002.
  for (;;) {
    const h = walker.header(at, true, true);
    if (!h && (at >= bytes.length || (metaEnd !== undefined && at < metaEnd))) return { truncated: 'the file is truncated inside its file meta information' };
    if (!h || h.group !== 0x0002) break;
    if (at + h.size + h.length > bytes.length) return { truncated: 'the file is truncated inside its file meta information' };
    if (h.element === 0x0000 && h.length === 4 && at + 12 <= bytes.length) metaEnd = at + 12 + walker.view.getUint32(at + 8, true);
    if (h.element === 0x0010) transferSyntaxUID = String.fromCharCode(...bytes.subarray(at + h.size, at + h.size + h.length)).replace(/[\0 ]+$/, '');
    at += h.size + h.length;
    if (metaEnd !== undefined && at >= metaEnd) break;
  }
  const scan: Scan = transferSyntaxUID ? { transferSyntaxUID } : {};
  if (!transferSyntaxUID || transferSyntaxUID === DEFLATED_LE) return scan; // deflated: dcmjs inflates
  const explicit = transferSyntaxUID !== IMPLICIT_LE;
  const little = transferSyntaxUID !== EXPLICIT_BE;
  try {
    while (at < bytes.length) {
      const h = walker.header(at, explicit, little);
      if (!h) {
        if (bytes.subarray(at).every((b) => b === 0)) break; // zero padding at the end
        scan.truncated = `the file ends inside the header of an element at byte ${at}`;
        break;
      }
      const valueOffset = at + h.size;
      const tag = `(${hex4(h.group)},${hex4(h.element)})`;
      if (h.group === 0x7fe0 && h.element === 0x0010) scan.pixelData = { valueOffset, length: h.length };
      if (h.length === UNDEFINED) {
        at = walker.skipSequence(valueOffset, h.vr === 'UN' ? false : explicit, h.vr === 'UN' ? true : little, 0);
        continue;
      }
      if (valueOffset + h.length > bytes.length) {
        const present = bytes.length - valueOffset;
        scan.truncated =
          h.group === 0x7fe0 && h.element === 0x0010
            ? `the file is truncated: Pixel Data declares ${h.length} bytes but only ${present} are present`
            : `the file is truncated: element ${tag} at byte ${at} declares ${h.length} bytes but only ${present} are present`;
        break;
      }
      at = valueOffset + h.length;
    }
  } catch (err) {
    scan.truncated = (err as Error).message;
  }
  return scan;
}
