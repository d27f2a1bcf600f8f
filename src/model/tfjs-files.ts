/**
 * TensorFlow.js layers-model directories (model.json + weight shards) read and written with plain
 * fs, so no tfjs-node file handler is needed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tf, type LayersModel } from '../tf.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: { [key: string]: {} };
}

export async function readModelArtifacts(jsonPath: string): Promise<tf.io.ModelArtifacts> {
  let json: ModelJson;
  try {
    json = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(jsonPath, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected model.json' : `not a TensorFlow.js model.json (${(err as Error).message})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new InputError(jsonPath, 'not a TensorFlow.js layers model: modelTopology or weightsManifest missing');
  }
  const dir = path.dirname(jsonPath);
  const buffers: Buffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      try {
        buffers.push(await fs.readFile(path.join(dir, p)));
      } catch {
        throw new InputError(jsonPath, `weight file ${p} is missing`);
      }
    }
    weightSpecs.push(...group.weights);
  }
  const joined = Buffer.concat(buffers);
  return {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? null,
    userDefinedMetadata: json.userDefinedMetadata,
  };
}

/** A model.json's user metadata, without reading its weights. */
export async function readModelMetadata(jsonPath: string): Promise<Record<string, unknown> | undefined> {
  const json = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as ModelJson;
  return json.userDefinedMetadata as Record<string, unknown> | undefined;
}

export async function loadLayersModelFromFile(jsonPath: string): Promise<LayersModel> {
  const artifacts = await readModelArtifacts(jsonPath);
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
