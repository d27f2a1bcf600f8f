/**
 * Real slices for the network, shared by `activations`, `attribute` and `examples`: files (DICOM,
 * NIfTI slices, photos), folders of them, and generated phantoms, each windowed by percentiles into
 * the network's [0, 1] range and kept next to its source RawImage so outputs can go back in the
 * source's own format and geometry. A slice that cannot be read becomes a failure record; the others
 * carry on.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, invalidParameterError } from '../errors.js';
import { createImage, toGray, type RawImage } from '../io/image.js';
import { parseInputSpec } from '../io/input-spec.js';
import { percentiles } from '../io/intensity.js';
import { readImages } from '../io/read.js';
import { walkInputs } from '../io/walk.js';
import { createRng, randomPhantom, sheppLogan } from '../mri/index.js';

export interface Slice {
  /** The input as the user named it, plus `#slice=N` when the file held several. */
  input: string;
  /** A file-system-safe name for this slice's outputs. */
  name: string;
  /** The slice as read, in source units (for writing results back in its format). */
  source: RawImage;
  /** Windowed to [0, 1], height x width x channels (the model's channel count). */
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
  /** Source values mapped to 0 and 1. */
  window: { low: number; high: number };
}

export interface SliceFailure {
  input: string;
  error: string;
}

export interface SliceOptions {
  /** Glob filter for folders, e.g. "*.dcm". */
  include?: string;
  /** Percentiles of each slice mapped to 0 and 1. */
  window: readonly [number, number];
  /** The model's input channels: grey is replicated, colour converted to grey for 1-channel models. */
  channels: number;
}

/** `phantom:shepp-logan[:SIZE]` or `phantom:random:SEED[:SIZE]` (size default 256). */
export const PHANTOM_INPUT = /^phantom:(shepp-logan|random:(\d+))(?::(\d+))?$/;

export function isPhantomInput(text: string): boolean {
  return text.startsWith('phantom:');
}

export function checkPhantomInput(text: string): void {
  const m = PHANTOM_INPUT.exec(text);
  if (!m || (m[3] !== undefined && (Number(m[3]) < 8 || Number(m[3]) > 4096))) {
    throw invalidParameterError('input', 'phantom:shepp-logan[:SIZE] or phantom:random:SEED[:SIZE] with 8 <= SIZE <= 4096', text);
  }
}

/** The side of a phantom input's image, from its name alone (no pixels made). */
export function phantomSize(text: string): number {
  checkPhantomInput(text);
  const m = PHANTOM_INPUT.exec(text)!;
  return m[3] === undefined ? 256 : Number(m[3]);
}

export function phantomImage(text: string): RawImage {
  checkPhantomInput(text);
  const m = PHANTOM_INPUT.exec(text)!;
  const size = m[3] === undefined ? 256 : Number(m[3]);
  const data = m[1] === 'shepp-logan' ? sheppLogan(size) : randomPhantom(size, createRng(Number(m[2])));
  return createImage(size, size, 1, data, { source: text });
}

function safeName(text: string): string {
  const base = path.basename(text.replace(/#.*$/, '')).replace(/\.nii\.gz$/i, '').replace(/\.[^.]+$/, '') || 'input';
  const selector = /#(.+)$/.exec(text)?.[1]?.replace('=', '') ?? '';
  return `${base}${selector ? `_${selector}` : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Windowed network input of one image. */
export function toSlice(image: RawImage, input: string, name: string, options: Pick<SliceOptions, 'window' | 'channels'>): Slice {
  const grey = options.channels === 3 && image.channels >= 3 ? image : toGray(image);
  const [low, high] = percentiles(grey, [...options.window]) as [number, number];
  const span = high - low || 1;
  const { width, height } = image;
  const data = new Float32Array(width * height * options.channels);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < options.channels; c++) {
      const v = grey.data[i * grey.channels + Math.min(c, grey.channels - 1)]!;
      data[i * options.channels + c] = (v - low) / span;
    }
  }
  return { input, name, source: image, data, width, height, channels: options.channels, window: { low, high } };
}

/** Reads every input (files, folders, phantoms); failures are returned, not thrown. */
export async function loadSlices(inputs: readonly string[], options: SliceOptions): Promise<{ slices: Slice[]; failures: SliceFailure[] }> {
  const slices: Slice[] = [];
  const failures: SliceFailure[] = [];
  const names = new Set<string>();
  const unique = (name: string) => {
    let n = name;
    for (let i = 2; names.has(n); i++) n = `${name}_${i}`;
    names.add(n);
    return n;
  };
  const add = (images: RawImage[], input: string) => {
    images.forEach((image, i) => {
      const label = images.length > 1 ? `${input}#slice=${i}` : input;
      slices.push(toSlice(image, label, unique(safeName(label)), options));
    });
  };
  for (const text of inputs) {
    try {
      if (isPhantomInput(text)) {
        add([phantomImage(text)], text);
        continue;
      }
      const spec = parseInputSpec(text);
      const stat = await fs.stat(spec.path).catch(() => undefined);
      if (!stat) throw new InputError(text, 'no such file or directory');
      if (stat.isDirectory()) {
        for (const file of await walkInputs(spec.path, { include: options.include })) {
          try {
            add(await readImages(file), file);
          } catch (err) {
            if (!(err instanceof InputError)) throw err;
            failures.push({ input: file, error: err.message });
          }
        }
      } else {
        add(await readImages(spec.path, spec.read), text);
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      failures.push({ input: text, error: err.message });
    }
  }
  return { slices, failures };
}

/**
 * The slice padded at the bottom and right (edge pixels repeated) to a multiple of `divisor`, the
 * model's total pooling factor; feature maps are cropped back to cover the original pixels only.
 */
export function padToMultiple(slice: Pick<Slice, 'data' | 'width' | 'height' | 'channels'>, divisor: number): { data: Float32Array; width: number; height: number } {
  const width = Math.ceil(slice.width / divisor) * divisor;
  const height = Math.ceil(slice.height / divisor) * divisor;
  if (width === slice.width && height === slice.height) return { data: slice.data, width, height };
  const c = slice.channels;
  const data = new Float32Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(y, slice.height - 1);
    for (let x = 0; x < width; x++) {
      const sx = Math.min(x, slice.width - 1);
      for (let k = 0; k < c; k++) data[(y * width + x) * c + k] = slice.data[(sy * slice.width + sx) * c + k]!;
    }
  }
  return { data, width, height };
}
