/**
 * Training checkpoints in `out`: one `checkpoint-NNNNNNN/` folder (the tfjs model plus Adam's moments)
 * and `checkpoint.json` naming it, written last so a run killed mid-checkpoint resumes from the
 * previous one.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LayersModel } from '../tf.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { saveLayersModel } from '../model/tfjs-files.js';
import type { OptimizerEntry } from './trainer.js';

export const STATE_FILE = 'checkpoint.json';

export interface CheckpointState<O> {
  step: number;
  dir: string;
  options: O;
  elapsedMs: number;
}

export async function saveCheckpoint<O>(model: LayersModel, optimizerWeights: OptimizerEntry[], out: string, step: number, options: O, elapsedMs: number): Promise<void> {
  const dir = `checkpoint-${String(step).padStart(7, '0')}`;
  await saveLayersModel(model, path.join(out, dir));
  // Adam's moments as one float32 blob plus a JSON index: JSON numbers would be ~20x larger and slower.
  const blob = new Float32Array(optimizerWeights.reduce((n, w) => n + w.data.length, 0));
  let offset = 0;
  const index = optimizerWeights.map((w) => {
    blob.set(w.data, offset);
    const entry = { name: w.name, shape: w.shape, offset, length: w.data.length };
    offset += w.data.length;
    return entry;
  });
  await writeFileAtomic(path.join(out, dir, 'optimizer.bin'), new Uint8Array(blob.buffer));
  await writeFileAtomic(path.join(out, dir, 'optimizer.json'), JSON.stringify(index));
  const previous = await readState(out);
  await writeFileAtomic(path.join(out, STATE_FILE), JSON.stringify({ step, dir, options, elapsedMs } satisfies CheckpointState<O>));
  if (previous && previous.dir !== dir) await fs.rm(path.join(out, previous.dir), { recursive: true, force: true });
}

export async function readState<O>(out: string): Promise<CheckpointState<O> | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(out, STATE_FILE), 'utf8')) as CheckpointState<O>;
  } catch {
    return undefined;
  }
}

export async function readOptimizer(dir: string): Promise<OptimizerEntry[]> {
  const indexFile = path.join(dir, 'optimizer.json');
  let index: { name: string; shape: number[]; offset: number; length: number }[];
  let bytes: Buffer;
  try {
    index = JSON.parse(await fs.readFile(indexFile, 'utf8'));
    bytes = await fs.readFile(path.join(dir, 'optimizer.bin'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(indexFile, code === 'ENOENT' ? 'optimizer state missing' : 'optimizer state is not valid JSON');
  }
  const blob = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength - (bytes.byteLength % 4)));
  if (!Array.isArray(index) || index.some((e) => !(e.offset >= 0 && e.length >= 0 && e.offset + e.length <= blob.length))) {
    throw new InputError(indexFile, `optimizer index does not fit optimizer.bin (${blob.length} floats)`);
  }
  return index.map((e) => ({ name: e.name, shape: e.shape, data: blob.slice(e.offset, e.offset + e.length) }));
}
