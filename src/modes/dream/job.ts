/**
 * One dream job: one input (all its slices) read, windowed into the network's range, dreamed, mapped
 * back to the input's units and written in its own format. The same in this thread and on a worker.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mergeLuminance, splitLuminance } from '../../ascent/color.js';
import { dream, type OctaveRecord } from '../../ascent/dream.js';
import { buildObjective, parseObjectiveTerms } from '../../ascent/objective-spec.js';
import { resize, type Plane } from '../../ascent/resample.js';
import { objectiveLayers, type GradientNormalization, type Objective } from '../../engine/engine.js';
import { exactHalo } from '../../model/receptive-field.js';
import { InputError, UsageError } from '../../errors.js';
import { createImage, withData, type RawImage } from '../../io/image.js';
import type { InputSpec } from '../../io/input-spec.js';
import { boundToRange, inputRange, percentileWindow, unwindow, type RangeMode } from '../../io/intensity.js';
import { ensureWritableDir, writeFileAtomic } from '../../io/atomic.js';
import { EXTENSIONS, keptFormat } from '../../io/naming.js';
import { volumeSuffix } from '../../io/output-names.js';
import { readImages } from '../../io/read.js';
import { writeImage, writeImages, type WriteFormat } from '../../io/write.js';
import { encodeAnimation, recordInterval } from '../../render/animate.js';
import { percentileWindow as displayWindow, renderTile } from '../../render/tile.js';
import type { EngineContext } from '../../run/context.js';
import type { JobRunner } from '../../run/jobs.js';
import type { DreamConfig, OutputFormatName } from './schema.js';

export interface DreamRecord {
  input: string;
  /** Files written, relative to the output folder. */
  outputs?: string[];
  slices?: number;
  octaves?: OctaveRecord[];
  window?: { low: number; high: number };
  /** Animated WebP of the dream (first slice), with write.animate. */
  animation?: string;
  /** The input's value range (all its images); with `write.range: input` every output value lies in it. */
  inputRange?: { min: number; max: number };
  error?: string;
}

/** One job: an input and the stem its outputs are named from (unique in the run, see names.ts). */
export interface DreamJob {
  spec: InputSpec;
  /** Relative to the output folder, '/'-separated, without suffix or extension: 'sub/a', 'a-png', 'scan-z40'. */
  stem: string;
}

export interface DreamItemProgress {
  octave: number;
  octaves: number;
  step: number;
  steps: number;
  objective: number;
  slice: number;
  slices: number;
}

const FORMAT_NAMES: Record<OutputFormatName, WriteFormat> = { png: 'png', tiff: 'tiff', nii: 'nifti', dcm: 'dicom' };

/** The objective text of a config: its layer entries joined, as `--layers` takes them. */
export const layersText = (config: DreamConfig) => config.ascend.layers.join(',');

export async function createJobRunner(ctx: EngineContext, config: DreamConfig): Promise<JobRunner<DreamJob, DreamRecord, DreamItemProgress>> {
  const objective = buildObjective(ctx.loaded.model, parseObjectiveTerms(layersText(config)), config.ascend.objective);
  return (job, progress) => dreamOne(ctx, objective, job, config, progress);
}

/**
 * What follows the stem for output I of COUNT: a picked volume of a 4-D file carries it ('-t1'), so volumes of
 * one file never share a name; several outputs get their index ('-0003'; '-t1-0003' per volume of a 4-D file).
 */
function outputSuffix(image: RawImage, i: number, count: number, picked: number | undefined): string {
  const n = image.meta.nifti;
  const fourD = n !== undefined && (n.volumes ?? 1) > 1;
  if (fourD && picked !== undefined) return `${volumeSuffix(n.volume)}${count > 1 ? `-${String(n.slice).padStart(4, '0')}` : ''}`;
  if (fourD && count > 1) return `${volumeSuffix(n.volume)}-${String(n.slice).padStart(4, '0')}`;
  return count > 1 ? `-${String(i).padStart(4, '0')}` : '';
}

/** The model's smallest input side: an image with a side under it is refused as that input's error. */
function checkSize(spec: InputSpec, image: RawImage, divisor: number): void {
  if (image.width < divisor || image.height < divisor) {
    throw new InputError(spec.text, `an image of ${image.width}x${image.height} is smaller than the model's minimum of ${divisor}x${divisor} pixels`);
  }
}

/** Dreams one input (all its slices) and writes it; an unreadable input becomes a record with its error. */
async function dreamOne(ctx: EngineContext, objective: Objective, job: DreamJob, config: DreamConfig, onProgress: (p: DreamItemProgress) => void): Promise<DreamRecord> {
  const { ascend, seed, write } = config;
  const { spec } = job;
  try {
    const images = await readImages(spec.path, { ...spec.read, axis: spec.read.axis ?? seed.axis, volume: seed.volume });
    for (const image of images) checkSize(spec, image, ctx.divisor);
    const range = inputRange(images);
    const outputs: RawImage[] = [];
    let octaves: OctaveRecord[] = [];
    let window = { low: 0, high: 0 };
    let frames: Plane[] | undefined;
    const options = {
      objective,
      octaves: ascend.octaves,
      octaveScale: ascend.octaveScale,
      steps: ascend.steps,
      step: ascend.step,
      normalize: ascend.normalize as GradientNormalization,
      jitter: ascend.jitter,
      tile: ascend.tile,
      // Default: exact tiles, the receptive field - 1 at the objective's layers (0 when unbounded: no tiling needs it).
      halo: ascend.halo ?? exactHalo(ctx.loaded.model, objectiveLayers(objective)) ?? 0,
      divisor: ctx.divisor,
      seed: seed.seed,
    };
    for (const [i, image] of images.entries()) {
      const dreamed = await dreamImage(image, ctx.channels, ascend.color, async (plane) => {
        // The window is the plane's own percentiles; the dream runs in [0, 1] and is mapped back to source units.
        const windowed = percentileWindow(createImage(plane.width, plane.height, plane.channels, plane.data), { low: seed.window[0], high: seed.window[1], clip: false });
        window = { low: windowed.window.low, high: windowed.window.high };
        const recordEvery = write.animate && i === 0 ? recordInterval(ascend.steps * ascend.octaves) : 0;
        const result = await dream(ctx.engine, { ...plane, data: windowed.image.data }, { ...options, recordEvery }, (p) => onProgress({ ...p, slice: i + 1, slices: images.length }));
        octaves = result.octaves;
        frames ??= result.frames;
        const restored = unwindow(createImage(plane.width, plane.height, plane.channels, result.image.data), windowed.window);
        return { ...result.image, data: restored.data };
      });
      outputs.push(boundToRange(dreamed, range, write.range as RangeMode));
    }
    const format = write.format ? FORMAT_NAMES[write.format] : keptFormat(images[0]!);
    const description = `unet-dream dream ${layersText(config)} (${ascend.objective}), ${ascend.octaves} octaves x ${ascend.steps} steps`;
    const written: string[] = [];
    const base = path.join(write.out, ...job.stem.split('/'));
    await fs.mkdir(path.dirname(base), { recursive: true });
    if (outputs.length > 1 && (format === 'nifti' || format === 'tiff')) {
      // One file: a NIfTI keeps the source's shape (every volume of a 4-D file: a 4-D output), a TIFF holds pages.
      const picked = images[0]!.meta.nifti && (images[0]!.meta.nifti.volumes ?? 1) > 1 && seed.volume !== undefined ? volumeSuffix(seed.volume) : '';
      const file = `${base}${picked}${EXTENSIONS[format]}`;
      await writeImages(outputs, file, { format, description });
      written.push(file);
    } else {
      for (const [i, out] of outputs.entries()) {
        const file = `${base}${outputSuffix(images[i]!, i, outputs.length, seed.volume)}${EXTENSIONS[format]}`;
        await writeImage(out, file, { format, description });
        written.push(file);
      }
    }
    const animation = frames?.length ? await writeDreamAnimation(frames, write.out, job.stem) : undefined;
    return { input: spec.text, outputs: written.map((f) => path.relative(write.out, f).split(path.sep).join('/')), slices: outputs.length, octaves, window, inputRange: range, ...(animation ? { animation } : {}) };
  } catch (err) {
    if (!(err instanceof InputError) && !(err instanceof UsageError)) throw err;
    return { input: spec.text, error: err.message };
  }
}

/** Frames (octaves grow) resized to the last frame's size, grey, one window: the final frame's 1st-99th percentiles. */
async function writeDreamAnimation(frames: Plane[], out: string, base: string): Promise<string> {
  const last = frames[frames.length - 1]!;
  const luma = (p: Plane) => (p.channels === 1 ? p : splitLuminance(p).luma);
  const sized = frames.map((f) => luma(f.width === last.width && f.height === last.height ? f : resize(f, last.width, last.height)));
  const window = displayWindow(1, 99, sized[sized.length - 1]!.data);
  const file = path.join('animations', `${base}.webp`);
  await ensureWritableDir(path.dirname(path.join(out, file)));
  await writeFileAtomic(path.join(out, file), await encodeAnimation(sized.map((f) => renderTile(f.data, f.width, f.height, 1, window, 'gray'))));
  return file;
}

/**
 * Chooses what the network dreams on: a single-channel network sees the luminance of a colour image
 * (chroma and alpha are put back after) or a grey version (`color: gray`); a colour network sees RGB.
 */
async function dreamImage(image: RawImage, modelChannels: number, color: DreamConfig['ascend']['color'], run: (plane: Plane) => Promise<Plane>): Promise<RawImage> {
  const plane: Plane = { data: image.data, width: image.width, height: image.height, channels: image.channels };
  if (modelChannels === 1) {
    if (image.channels === 1) return withData(image, (await run(plane)).data);
    const split = splitLuminance(plane);
    const luma = await run(split.luma);
    if (color === 'gray') {
      const gray = split.alpha ? mergeLuminance(luma, split, 2) : luma;
      return createImage(image.width, image.height, gray.channels, gray.data, { ...image.meta, hasAlpha: Boolean(split.alpha), dicom: undefined });
    }
    return withData(image, mergeLuminance(luma, split, image.channels).data);
  }
  if (modelChannels === 3 && image.channels >= 3) {
    const rgb = new Float32Array(image.width * image.height * 3);
    for (let i = 0; i < image.width * image.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = image.data[i * image.channels + c]!;
    const out = await run({ ...plane, data: rgb, channels: 3 });
    const data = Float32Array.from(image.data);
    for (let i = 0; i < image.width * image.height; i++) for (let c = 0; c < 3; c++) data[i * image.channels + c] = out.data[i * 3 + c]!;
    return withData(image, data);
  }
  if (modelChannels === 3 && image.channels === 1) {
    const rgb = new Float32Array(image.width * image.height * 3);
    for (let i = 0; i < image.data.length; i++) rgb.fill(image.data[i]!, i * 3, i * 3 + 3);
    const out = await run({ ...plane, data: rgb, channels: 3 });
    return createImage(image.width, image.height, 3, out.data, { ...image.meta, dicom: undefined, nifti: undefined });
  }
  throw new UsageError(`the model takes ${modelChannels} input channels; ${image.meta.source} has ${image.channels}`);
}
