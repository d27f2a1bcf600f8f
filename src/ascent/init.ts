/**
 * Starting images (the `init` option): noise, phantoms, a real image, or the network's own kind of input, an
 * aliased (undersampled, zero-filled) phantom or image. Parsing is pure and checked up front;
 * `prepareInit` reads any file once and returns a generator that draws each image from its own keyed
 * stream, so a filter's start never depends on batching or workers.
 */
import { existsSync, statSync } from 'node:fs';
import { InputError, invalidParameterError } from '../errors.js';
import type { Rng } from '../random.js';
import { resize } from './resample.js';
import { cartesianMask, isPowerOfTwo, randomPhantom, sheppLogan, zeroFilled } from '../mri/index.js';
import { parseInputSpec } from '../io/input-spec.js';
import { readImage } from '../io/read.js';
import { readDicomSeries } from '../io/series.js';
import { toGray } from '../io/image.js';
import { percentileWindow } from '../io/intensity.js';

export type InitSpec =
  | { kind: 'uniform'; low: number; high: number; text: string }
  | { kind: 'gaussian'; mean: number; std: number; text: string }
  | { kind: 'phantom'; phantom: 'shepp-logan' | 'random'; text: string }
  | { kind: 'image'; path: string; text: string }
  | { kind: 'aliased'; source: 'phantom' | { path: string }; text: string };

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/** k-space undersampling for `aliased:` seeds. */
export interface AliasingOptions {
  acceleration: number;
  center: number;
}

/** Draws one starting image (height * width * channels floats). */
export type InitSource = (shape: ImageShape, rng: Rng) => Float32Array;

const FORMS = 'uniform:LO:HI, gaussian:MEAN:STD, phantom:shepp-logan, phantom:random, image:PATH, aliased:phantom or aliased:PATH';

function numbers(text: string, parts: string[], names: string): number[] {
  const values = parts.map(Number);
  if (parts.length !== 2 || values.some((v) => !Number.isFinite(v))) throw invalidParameterError('init', `${names} with numbers`, text);
  return values;
}

function checkFile(text: string, spec: string): { path: string } {
  const { path } = parseInputSpec(spec);
  if (!path) throw invalidParameterError('init', 'a file after the colon', text);
  if (!existsSync(path)) throw invalidParameterError('init', 'an existing image file', text);
  return { path: spec };
}

export function parseInit(text: string): InitSpec {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  switch (kind) {
    case 'uniform': {
      const [low, high] = numbers(text, rest.split(':'), 'uniform:LO:HI');
      if (high! <= low!) throw invalidParameterError('init', 'uniform:LO:HI with LO < HI', text);
      return { kind, low: low!, high: high!, text };
    }
    case 'gaussian': {
      const [mean, std] = numbers(text, rest.split(':'), 'gaussian:MEAN:STD');
      if (std! < 0) throw invalidParameterError('init', 'gaussian:MEAN:STD with STD >= 0', text);
      return { kind, mean: mean!, std: std!, text };
    }
    case 'phantom':
      if (rest !== 'shepp-logan' && rest !== 'random') throw invalidParameterError('init', 'phantom:shepp-logan or phantom:random', text);
      return { kind, phantom: rest, text };
    case 'image':
      return { kind, path: checkFile(text, rest).path, text };
    case 'aliased':
      return { kind, source: rest === 'phantom' ? 'phantom' : checkFile(text, rest), text };
    default:
      throw invalidParameterError('init', `one of ${FORMS}`, text);
  }
}

/** Replicates a single-channel image into `channels` channels (RGB models see grey). */
function toChannels(gray: Float32Array, channels: number): Float32Array {
  if (channels === 1) return gray;
  const out = new Float32Array(gray.length * channels);
  for (let i = 0; i < gray.length; i++) out.fill(gray[i]!, i * channels, (i + 1) * channels);
  return out;
}

function aliasedOf(image: Float32Array, shape: ImageShape, aliasing: AliasingOptions, rng: Rng): Float32Array {
  if (!isPowerOfTwo(shape.width) || !isPowerOfTwo(shape.height)) {
    throw invalidParameterError('size', 'a power of two for aliased: seeds (the FFT needs one)', `${shape.width}x${shape.height}`);
  }
  const mask = cartesianMask({ width: shape.width, height: shape.height, acceleration: aliasing.acceleration, center: aliasing.center, pattern: 'random', axis: 'x', rng });
  return zeroFilled(image, shape.width, shape.height, mask);
}

/** A real image as a [0, 1] grey plane of the requested size (percentile window 0.5-99.5 %). */
async function loadPlane(spec: string): Promise<{ data: Float32Array; width: number; height: number }> {
  const { path, read } = parseInputSpec(spec);
  // A folder is a DICOM series, sorted by position along its normal; #slice=N picks one (default: middle).
  const image = statSync(path).isDirectory()
    ? await readDicomSeries(path).then((series) => {
        const index = read.slice ?? Math.floor(series.length / 2);
        if (index >= series.length) throw new InputError(path, `slice ${index} is out of range: the series holds ${series.length} slices (0..${series.length - 1})`);
        return series[index]!;
      })
    : await readImage(path, read);
  const gray = image.channels === 1 ? image : toGray(image);
  const { image: windowed } = percentileWindow(gray);
  return { data: windowed.data, width: windowed.width, height: windowed.height };
}

export async function prepareInit(spec: InitSpec, aliasing: AliasingOptions = { acceleration: 4, center: 0.08 }): Promise<InitSource> {
  switch (spec.kind) {
    case 'uniform':
      return (shape, rng) => {
        const out = new Float32Array(shape.height * shape.width * shape.channels);
        for (let i = 0; i < out.length; i++) out[i] = spec.low + (spec.high - spec.low) * rng.next();
        return out;
      };
    case 'gaussian':
      return (shape, rng) => {
        const out = new Float32Array(shape.height * shape.width * shape.channels);
        for (let i = 0; i < out.length; i++) out[i] = spec.mean + spec.std * rng.normal();
        return out;
      };
    case 'phantom':
      return (shape, rng) =>
        toChannels(spec.phantom === 'shepp-logan' ? sheppLogan(shape.width, shape.height) : randomPhantom({ width: shape.width, height: shape.height }, rng), shape.channels);
    case 'image': {
      const plane = await loadPlane(spec.path);
      return (shape) => toChannels(resize({ ...plane, channels: 1 }, shape.width, shape.height).data, shape.channels);
    }
    case 'aliased': {
      const plane = spec.source === 'phantom' ? undefined : await loadPlane(spec.source.path);
      return (shape, rng) => {
        const base = plane ? resize({ ...plane, channels: 1 }, shape.width, shape.height).data : randomPhantom({ width: shape.width, height: shape.height }, rng);
        return toChannels(aliasedOf(base, shape, aliasing, rng), shape.channels);
      };
    }
  }
}
