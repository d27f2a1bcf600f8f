/**
 * TensorFlow.js layers-model directories (model.json + weight shards) read and written with plain
 * fs, so no tfjs-node file handler is needed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tf, type LayersModel } from '../tf.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { inferenceIdentityNotes, isObject, rewriteInferenceIdentities, type Json } from './keras-config.js';
import { parseJsonFile } from './json-text.js';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: { [key: string]: {} };
}

export interface ReadModelOptions {
  /** Told one line per thing a user may want to know (a training-only layer loaded as identity). */
  onNote?: (note: string) => void;
}

/**
 * Reads a model.json and its weight files. Every weight path must name a file inside the model's
 * folder (after symlinks): a model file is data from anyone, and must not read, or let `convert` copy,
 * any other file on the machine.
 */
export async function readModelArtifacts(jsonPath: string, options: ReadModelOptions = {}): Promise<tf.io.ModelArtifacts> {
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(jsonPath, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected model.json' : `cannot read (${code ?? 'unknown error'})`);
  }
  const json = parseJsonFile(text, jsonPath, 'a TensorFlow.js model.json') as ModelJson;
  if (!isObject(json) || !isObject(json.modelTopology) || !Array.isArray(json.weightsManifest)) {
    throw new InputError(jsonPath, 'not a TensorFlow.js layers model: modelTopology or weightsManifest missing');
  }
  const topology = json.modelTopology as Json;
  for (const note of inferenceIdentityNotes(isObject(topology) && isObject(topology.model_config) ? topology.model_config : topology)) options.onNote?.(note);
  const buffers: Buffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights) || group.paths.some((p) => typeof p !== 'string')) {
      throw new InputError(jsonPath, 'weightsManifest entries must each have a list of paths and a list of weights');
    }
    for (const p of group.paths) buffers.push(await readWeightFile(jsonPath, p));
    weightSpecs.push(...group.weights);
  }
  const joined = Buffer.concat(buffers);
  return {
    modelTopology: rewriteInferenceIdentities(topology) as object,
    weightSpecs,
    weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? null,
    userDefinedMetadata: json.userDefinedMetadata,
  };
}

/** One weight file of a model.json, refused unless it lies inside the model's folder. */
async function readWeightFile(jsonPath: string, weightPath: string): Promise<Buffer> {
  const dir = path.dirname(path.resolve(jsonPath));
  const outside = () => new InputError(jsonPath, `weight path ${JSON.stringify(weightPath)} points outside the model's folder; weight files must be inside ${dir}`);
  if (weightPath === '' || weightPath.includes('\0') || path.isAbsolute(weightPath) || path.win32.isAbsolute(weightPath)) throw outside();
  const target = path.resolve(dir, weightPath);
  if (!isInside(dir, target)) throw outside();
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch {
    throw new InputError(jsonPath, `weight file ${JSON.stringify(weightPath)} is missing`);
  }
  // A symlink inside the folder may still lead out of it: compare where it really is.
  if (!isInside(await fs.realpath(dir), real)) throw outside();
  try {
    return await fs.readFile(real);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(jsonPath, `weight file ${JSON.stringify(weightPath)} cannot be read (${code === 'EISDIR' ? 'is a directory' : (code ?? 'unknown error')})`);
  }
}

function isInside(dir: string, target: string): boolean {
  const rel = path.relative(dir, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** A model.json's user metadata, without reading its weights. */
export async function readModelMetadata(jsonPath: string): Promise<Record<string, unknown> | undefined> {
  const json = parseJsonFile(await fs.readFile(jsonPath, 'utf8'), jsonPath, 'a TensorFlow.js model.json') as ModelJson;
  return isObject(json) ? (json.userDefinedMetadata as Record<string, unknown> | undefined) : undefined;
}

export async function loadLayersModelFromFile(jsonPath: string, options: ReadModelOptions = {}): Promise<LayersModel> {
  const artifacts = await readModelArtifacts(jsonPath, options);
  try {
    return await tf.loadLayersModel({ load: async () => artifacts });
  } catch (err) {
    throw new InputError(jsonPath, `cannot build the model: ${(err as Error).message.split('\n')[0]}`);
  }
}

export interface SaveOptions {
  /** float16 halves the shipped size; weights are widened back to float32 on load. */
  quantize?: 'float16';
  metadata?: { [key: string]: {} };
}

export async function saveLayersModel(model: LayersModel, dir: string, options: SaveOptions = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await model.save({
    save: async (artifacts) => {
      let specs = artifacts.weightSpecs ?? [];
      let data = new Uint8Array(artifacts.weightData as ArrayBuffer);
      if (options.quantize === 'float16') {
        ({ specs, data } = toFloat16(specs, data));
      }
      await writeFileAtomic(path.join(dir, 'weights.bin'), data);
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology as object,
        format: 'layers-model',
        generatedBy: 'unet-dream',
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
        userDefinedMetadata: options.metadata,
      };
      await writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
}

function toFloat16(specs: tf.io.WeightsManifestEntry[], data: Uint8Array) {
  const floats = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  const out = new Uint16Array(floats.length);
  for (let i = 0; i < floats.length; i++) out[i] = float32ToFloat16(floats[i]!);
  // tfjs reads quantization dtype float16 natively and widens to float32.
  const newSpecs = specs.map((s) => ({ ...s, quantization: { dtype: 'float16' as const } }));
  return { specs: newSpecs, data: new Uint8Array(out.buffer) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant = (mant | 0x800000) >>> (1 - e);
    return sign | ((mant + 0x1000) >>> 13);
  }
  const half = sign | (e << 10) | (mant >>> 13);
  // round to nearest even
  const rest = mant & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? half + 1 : half;
}
