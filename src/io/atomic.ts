/** Atomic writes: readers never see a half-written file, and a killed run never leaves one behind. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OutputError } from '../errors.js';

let counter = 0;

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter++}.tmp`);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new OutputError(file, writeFailure(err));
  }
}

/** Why a write failed, in words: the errno codes a user meets, then the code itself. */
export function writeFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
      return 'no space left on device (ENOSPC)';
    case 'EDQUOT':
      return 'disk quota exceeded (EDQUOT)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EROFS':
      return 'read-only file system (EROFS)';
    case 'ENOENT':
      return 'the folder does not exist (ENOENT)';
    case 'ENOTDIR':
    case 'EEXIST':
      return `a file is in the way (${code})`;
    default:
      return code ?? (err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}

/** Creates DIR (and parents) and proves it is writable before any heavy work starts. */
export async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.write-test.${process.pid}.tmp`);
    await fs.writeFile(probe, '');
    await fs.rm(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way' : (code ?? (err as Error).message);
    throw new OutputError(dir, why);
  }
}
