/**
 * Where training pairs come from: `phantoms` (the seed's simulation), `nifti:PATH[,PATH...]` (2-D slices
 * of real MR volumes) or `mix:P:PATH[,PATH...]` (a share P of phantoms, the rest slices). Every pair is
 * a fully sampled image on the size x size grid and its zero-filled reconstruction from the same
 * Cartesian undersampling; training crops are cut from both alike. Each example is keyed by
 * (seed, split, index), so a resumed run sees exactly the data it would have.
 */
import { keyedRng } from '../random.js';
import { UsageError, invalidParameterError } from '../errors.js';
import { createImage } from '../io/image.js';
import { percentileWindow } from '../io/intensity.js';
import { cartesianMask, zeroFilled } from '../mri/index.js';
import { DEFAULT_AUGMENT, fixedPlacement, place, randomPlacement, type AugmentOptions } from './augment.js';
import { makeBatch, makeCropBatch, makeExample, type Example, type ExampleBatch, type UndersamplingOptions } from './dataset.js';
import { indexSlices, readVolume, sliceOf, VOLUME_AXES, type SliceRef, type Volume, type VolumeAxis, type VolumeSplit } from './volumes.js';

export type DataSpec = { kind: 'phantoms' } | { kind: 'nifti'; paths: string[] } | { kind: 'mix'; phantomShare: number; paths: string[] };

const DATA_FORMS = 'phantoms, nifti:PATH[,PATH...] or mix:P:PATH[,PATH...] (P = share of phantoms in [0, 1])';

/** Parses `--data`. */
export function parseDataSpec(text: string): DataSpec {
  if (text === 'phantoms') return { kind: 'phantoms' };
  const paths = (list: string) => {
    const out = list.split(',').map((p) => p.trim()).filter((p) => p !== '');
    if (out.length === 0) throw invalidParameterError('data', `${DATA_FORMS}; no volume path given`, text);
    return out;
  };
  if (text.startsWith('nifti:')) return { kind: 'nifti', paths: paths(text.slice('nifti:'.length)) };
  const mix = /^mix:([^:]+):(.*)$/s.exec(text);
  if (mix) {
    const share = Number(mix[1]);
    if (!(mix[1]!.trim() !== '' && share >= 0 && share <= 1)) throw invalidParameterError('data', `${DATA_FORMS}; the phantom share must be a number in [0, 1]`, text);
    return { kind: 'mix', phantomShare: share, paths: paths(mix[2]!) };
  }
  if (text.startsWith('mix:')) throw invalidParameterError('data', `${DATA_FORMS}; mix needs volumes too, e.g. mix:0.3:ch2better.nii.gz`, text);
  throw invalidParameterError('data', DATA_FORMS, text);
}

/** The canonical text of a spec (what checkpoints and model.json record, paths reduced to base names there). */
export function formatDataSpec(spec: DataSpec): string {
  if (spec.kind === 'phantoms') return 'phantoms';
  if (spec.kind === 'nifti') return `nifti:${spec.paths.join(',')}`;
  return `mix:${spec.phantomShare}:${spec.paths.join(',')}`;
}

export interface DataOptions {
  size: number;
  crop: number;
  seed: number;
  undersampling: UndersamplingOptions;
  /** Slice axes of the volumes (default all three). */
  axes?: readonly VolumeAxis[];
  /** Share of each volume's non-empty z range held out for validation (default 0.15). */
  validationFraction?: number;
  /** Augment real slices (default true); phantoms are never augmented, as in the seed. */
  augment?: boolean;
  /** Largest blur sigma of the augmentation (AugmentOptions.maxBlur); default 0. */
  augmentBlur?: number;
}

/** What model.json and the checkpoint record about the data. */
export interface DataRecord {
  data: string;
  phantomShare: number;
  axes?: VolumeAxis[];
  augment?: AugmentOptions | false;
  volumes?: VolumeSplit[];
}

export interface TrainingData {
  readonly record: DataRecord;
  /** Training crops number first..first+n-1 (crop x crop). */
  trainBatch(first: number, n: number): ExampleBatch;
  /** The fixed validation set at full size. */
  validation(n: number): ExampleBatch;
}

/** Checks the spec and loads its volumes; the one place a run's data is assembled. */
export async function openTrainingData(spec: DataSpec, options: DataOptions): Promise<TrainingData> {
  if (spec.kind === 'phantoms') return new PhantomData(options);
  const axes = options.axes ?? VOLUME_AXES;
  if (axes.length === 0 || axes.some((a) => !VOLUME_AXES.includes(a))) throw invalidParameterError('axes', 'one or more of x, y, z', axes.join(','));
  const validationFraction = options.validationFraction ?? 0.15;
  if (!(validationFraction > 0 && validationFraction < 0.5)) throw invalidParameterError('validationFraction', 'a fraction in (0, 0.5)', validationFraction);
  const volumes: Volume[] = [];
  for (const p of spec.paths) volumes.push(await readVolume(p));
  const indexed = volumes.map((v, k) => indexSlices(v, k, { validationFraction, gap: 4, axes }));
  return new SliceData(options, spec.kind === 'mix' ? spec.phantomShare : 0, volumes, indexed, axes, formatDataSpec(spec));
}

class PhantomData implements TrainingData {
  readonly record: DataRecord = { data: 'phantoms', phantomShare: 1 };
  constructor(private readonly o: DataOptions) {}
  trainBatch(first: number, n: number): ExampleBatch {
    // The seed's crops exactly (no redraw of empty crops): phantom runs reproduce and resume as before.
    return makeCropBatch(this.o.size, this.o.crop, this.o.seed, first, n, this.o.undersampling);
  }
  validation(n: number): ExampleBatch {
    return makeBatch(this.o.size, this.o.seed, 'val', 0, n, this.o.undersampling);
  }
}

class SliceData implements TrainingData {
  readonly record: DataRecord;
  private readonly train: SliceRef[];
  private readonly held: SliceRef[];
  private readonly augment: AugmentOptions | false;

  constructor(
    private readonly o: DataOptions,
    private readonly phantomShare: number,
    private readonly volumes: Volume[],
    indexed: { train: SliceRef[]; validation: SliceRef[]; split: VolumeSplit }[],
    axes: readonly VolumeAxis[],
    data: string,
  ) {
    this.train = indexed.flatMap((x) => x.train);
    this.held = indexed.flatMap((x) => x.validation);
    this.augment = o.augment === false ? false : { ...DEFAULT_AUGMENT, ...(o.augmentBlur ? { maxBlur: o.augmentBlur } : {}) };
    // Base names only: model.json must not carry this machine's paths.
    const names = indexed.map((x) => x.split.volume).join(',');
    const recorded = data.startsWith('mix:') ? `mix:${phantomShare}:${names}` : `nifti:${names}`;
    this.record = { data: recorded, phantomShare, axes: [...axes], augment: this.augment, volumes: indexed.map((x) => x.split) };
  }

  private zEnd(ref: SliceRef): number {
    return this.record.volumes![ref.volume]!.trainZEnd;
  }

  /** A real slice on the grid, normalised as inference normalises an image (0.5-99.5 percentile window). */
  private sliceExample(ref: SliceRef, split: 'train' | 'val', index: number, augmented: boolean): Example {
    const v = this.volumes[ref.volume]!;
    const raw = sliceOf(v, ref.axis, ref.index, split === 'train' ? this.zEnd(ref) : v.nz);
    const windowed = percentileWindow(createImage(raw.width, raw.height, 1, raw.data)).image.data;
    const slice = { data: windowed, width: raw.width, height: raw.height };
    const size = this.o.size;
    const placement = augmented && this.augment ? randomPlacement(slice, size, keyedRng(this.o.seed, split, 'augment', index), this.augment) : fixedPlacement(slice, size);
    const target = place(slice, size, placement);
    const mask = cartesianMask({ width: size, height: size, ...this.o.undersampling, rng: keyedRng(this.o.seed, split, 'mask', index) });
    return { input: zeroFilled(target, size, size, mask), target };
  }

  private trainExample(i: number): Example {
    const rng = keyedRng(this.o.seed, 'train', 'source', i);
    if (rng.next() < this.phantomShare) return makeExample(this.o.size, this.o.seed, 'train', i, this.o.undersampling);
    return this.sliceExample(this.train[rng.int(this.train.length)]!, 'train', i, true);
  }

  trainBatch(first: number, n: number): ExampleBatch {
    return cropBatch(this.o, first, n, (i) => this.trainExample(i));
  }

  /** round(share * n) held-out phantoms, then slices spread evenly over the validation slabs. */
  validation(n: number): ExampleBatch {
    const phantoms = Math.round(this.phantomShare * n);
    const slices = n - phantoms;
    if (slices > 0 && this.held.length === 0) throw new UsageError('validation: no held-out slice holds tissue; use a larger validationFraction');
    const size = this.o.size;
    const pixels = size * size;
    const inputs = new Float32Array(n * pixels);
    const targets = new Float32Array(n * pixels);
    for (let i = 0; i < n; i++) {
      const ex = i < phantoms
        ? makeExample(size, this.o.seed, 'val', i, this.o.undersampling)
        : this.sliceExample(this.held[Math.floor(((i - phantoms + 0.5) * this.held.length) / slices)]!, 'val', i, false);
      inputs.set(ex.input, i * pixels);
      targets.set(ex.target, i * pixels);
    }
    return { inputs, targets, n, size };
  }
}

/**
 * Crops of examples made at full size (so the aliasing has a full acquisition's geometry). Real slices
 * leave background around the anatomy: a crop whose target is nearly black is redrawn (up to 3 times)
 * so most crops hold tissue.
 */
function cropBatch(o: DataOptions, first: number, n: number, example: (i: number) => Example): ExampleBatch {
  const { size, crop, seed } = o;
  const pixels = crop * crop;
  const inputs = new Float32Array(n * pixels);
  const targets = new Float32Array(n * pixels);
  for (let i = 0; i < n; i++) {
    const ex = example(first + i);
    if (crop >= size) {
      inputs.set(ex.input, i * pixels);
      targets.set(ex.target, i * pixels);
      continue;
    }
    const rng = keyedRng(seed, 'train', 'crop', first + i);
    let x0 = 0;
    let y0 = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      x0 = rng.int(size - crop + 1);
      y0 = rng.int(size - crop + 1);
      if (meanOfWindow(ex.target, size, x0, y0, crop) > 0.05) break;
    }
    for (let y = 0; y < crop; y++) {
      const from = (y0 + y) * size + x0;
      inputs.set(ex.input.subarray(from, from + crop), i * pixels + y * crop);
      targets.set(ex.target.subarray(from, from + crop), i * pixels + y * crop);
    }
  }
  return { inputs, targets, n, size: crop };
}

function meanOfWindow(image: Float32Array, size: number, x0: number, y0: number, crop: number): number {
  let sum = 0;
  for (let y = y0; y < y0 + crop; y++) for (let x = x0; x < x0 + crop; x++) sum += image[y * size + x]!;
  return sum / (crop * crop);
}
