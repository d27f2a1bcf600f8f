/** A PNG's pixel size from its IHDR chunk (the first 24 bytes), without decoding the image. */
import { promises as fs } from 'node:fs';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function pngSizeOf(head: Uint8Array): { width: number; height: number } | undefined {
  if (head.length < 24 || SIGNATURE.some((b, i) => head[i] !== b)) return undefined;
  // Bytes 12-15 name the first chunk, which the PNG specification requires to be IHDR.
  if (String.fromCharCode(head[12]!, head[13]!, head[14]!, head[15]!) !== 'IHDR') return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/** Undefined when the file is missing or not a PNG. */
export async function pngSize(file: string): Promise<{ width: number; height: number } | undefined> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const head = new Uint8Array(24);
    const { bytesRead } = await handle.read(head, 0, 24, 0);
    return pngSizeOf(head.subarray(0, bytesRead));
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}
