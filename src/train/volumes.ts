/**
 * Real MR volumes as training data: a NIfTI volume read once into a voxel grid, 2-D slices cut from it
 * along any of its three axes, near-empty slices skipped, and a train/validation split that shares no
 * voxel: the top slab of the volume's third axis (axial for the usual RAS/LAS files) is held out for
 * validation; training slices along that axis stop below it, and training slices along the other two
 * axes are cut short below it, with a gap of a few voxels in between.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { readImages } from '../io/read.js';

/** A voxel grid: value at (x, y, z) is data[(z * ny + y) * nx + x]. */
export interface Volume {
  /** As the user named it (errors); only the base name is recorded in model.json. */
  file: string;
  nx: number;
  ny: number;
  nz: number;
  data: Float32Array;
  sha256: string;
}

export type VolumeAxis = 'x' | 'y' | 'z';
export const VOLUME_AXES: readonly VolumeAxis[] = Object.freeze(['x', 'y', 'z'] as const);

/** One 2-D slice of a volume: along `axis` at `index`, rows limited to `rows` (see sliceOf). */
export interface SliceRef {
  volume: number;
  axis: VolumeAxis;
  index: number;
}

export interface SliceImage {
  data: Float32Array;
  width: number;
  height: number;
}

export interface VolumeSplit {
  /** Base name and digest of the volume (never the path: model.json travels). */
  volume: string;
  sha256: string;
  shape: [number, number, number];
  /** Validation: slices along z in [first, last] (inclusive). */
  validationZ: [number, number];
  /** Training: every slice along z in [0, trainZEnd) and slices along x and y cut to z < trainZEnd. */
  trainZEnd: number;
  /** Slices kept per axis after the near-empty ones were skipped. */
  trainSlices: Record<VolumeAxis, number>;
  validationSlices: number;
}

/** Which Debian package installs the volumes the project documents (the shipped MR model's data). */
const VOLUME_PACKAGE_HINT = "the Colin27 templates (ch2better.nii.gz, ch2.nii.gz) come with Debian's mricron-data package (apt-get install mricron-data: /usr/share/mricron/templates/)";

/** Reads a NIfTI volume (first volume of a 4-D file) into a voxel grid. */
export async function readVolume(file: string): Promise<Volume> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(file, `no such file; ${VOLUME_PACKAGE_HINT}`);
    throw new InputError(file, code === 'EISDIR' ? 'is a directory, not a NIfTI volume' : `cannot read (${code ?? 'error'})`);
  }
  const slices = await readImages(file, { axis: 'z', volume: 0 });
  const first = slices[0]!;
  if (first.meta.format !== 'nifti') throw new InputError(file, `is ${first.meta.format ?? 'not NIfTI'}; training volumes must be NIfTI (.nii or .nii.gz)`);
  if (first.channels !== 1) throw new InputError(file, `has ${first.channels} channels per voxel; training volumes must be greyscale`);
  if (slices.length < 8 || first.width < 16 || first.height < 16) {
    throw new InputError(file, `is ${first.width}x${first.height}x${slices.length} voxels; training needs at least 16x16x8`);
  }
  const nx = first.width;
  const ny = first.height;
  const nz = slices.length;
  const data = new Float32Array(nx * ny * nz);
  slices.forEach((s, z) => data.set(s.data, z * nx * ny));
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) data[i] = 0;
  return { file, nx, ny, nz, data, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The slice as an image. Along z: rows are y. Along x or y: rows are z, top of the volume first, and
 * only z < zEnd is kept (the held-out slab stays out of training slices).
 */
export function sliceOf(v: Volume, axis: VolumeAxis, index: number, zEnd = v.nz): SliceImage {
  const { nx, ny } = v;
  if (axis === 'z') return { data: v.data.slice(index * nx * ny, (index + 1) * nx * ny), width: nx, height: ny };
  const width = axis === 'x' ? ny : nx;
  const height = zEnd;
  const out = new Float32Array(width * height);
  for (let r = 0; r < height; r++) {
    const z = zEnd - 1 - r;
    for (let c = 0; c < width; c++) out[r * width + c] = axis === 'x' ? v.data[(z * ny + c) * nx + index]! : v.data[(z * ny + index) * nx + c]!;
  }
  return { data: out, width, height };
}

/** The 99.5th percentile of a volume's values over a strided sample: "bright tissue" for emptiness tests. */
function robustMax(v: Volume): number {
  const step = Math.max(1, Math.floor(v.data.length / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < v.data.length; i += step) sample.push(v.data[i]!);
  sample.sort((a, b) => a - b);
  return sample[Math.min(sample.length - 1, Math.floor(0.995 * sample.length))]!;
}

/** A slice is near-empty when less than `minFraction` of its pixels exceed 10% of the volume's bright tissue. */
export function isNearEmpty(slice: SliceImage, threshold: number, minFraction = 0.08): boolean {
  let above = 0;
  for (let i = 0; i < slice.data.length; i++) if (slice.data[i]! > threshold) above++;
  return above < minFraction * slice.data.length;
}

export interface SplitOptions {
  /** Share of the non-empty z range held out for validation (top slab). */
  validationFraction: number;
  /** Voxels between the training and validation slabs (neighbouring slices are nearly alike). */
  gap: number;
  axes: readonly VolumeAxis[];
}

export interface VolumeSlices {
  train: SliceRef[];
  validation: SliceRef[];
  split: VolumeSplit;
}

/** Indexes the usable slices of volume number `k` and splits them (see the module comment). */
export function indexSlices(v: Volume, k: number, options: SplitOptions): VolumeSlices {
  const threshold = 0.1 * robustMax(v);
  const nonEmptyZ: number[] = [];
  for (let z = 0; z < v.nz; z++) if (!isNearEmpty(sliceOf(v, 'z', z), threshold)) nonEmptyZ.push(z);
  if (nonEmptyZ.length < 4) throw new InputError(v.file, `only ${nonEmptyZ.length} of its ${v.nz} slices along z hold tissue; training needs a volume with anatomy in it`);
  const zFirst = nonEmptyZ[0]!;
  const zLast = nonEmptyZ[nonEmptyZ.length - 1]!;
  const held = Math.max(1, Math.round((zLast - zFirst + 1) * options.validationFraction));
  const valFirst = zLast - held + 1;
  const trainZEnd = Math.max(1, valFirst - options.gap);
  const train: SliceRef[] = [];
  const counts: Record<VolumeAxis, number> = { x: 0, y: 0, z: 0 };
  for (const axis of options.axes) {
    const n = axis === 'x' ? v.nx : axis === 'y' ? v.ny : trainZEnd;
    for (let i = 0; i < n; i++) {
      if (isNearEmpty(sliceOf(v, axis, i, trainZEnd), threshold)) continue;
      train.push({ volume: k, axis, index: i });
      counts[axis]++;
    }
  }
  const validation = nonEmptyZ.filter((z) => z >= valFirst).map((index) => ({ volume: k, axis: 'z' as const, index }));
  if (train.length === 0) throw new InputError(v.file, 'no training slice holds tissue below the validation slab');
  return {
    train,
    validation,
    split: {
      volume: path.basename(v.file),
      sha256: v.sha256,
      shape: [v.nx, v.ny, v.nz],
      validationZ: [valFirst, zLast],
      trainZEnd,
      trainSlices: counts,
      validationSlices: validation.length,
    },
  };
}
