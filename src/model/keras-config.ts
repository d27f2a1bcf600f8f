/**
 * Keras model configurations (the JSON in an HDF5 file's `model_config` attribute, or `model.to_json()`):
 * recognising what TensorFlow.js cannot rebuild (Keras 1, Lambda, custom classes) with a message that
 * says what to do, and normalising what it can (Keras 2.x, tf.keras 2.x, and the Keras 3 spelling of the
 * same configs) into the Keras 2 form `tf.models.modelFromJSON` understands.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import { parseJsonFile } from './json-text.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A Keras model config: `{ class_name, config }` plus whatever else the writer added. */
export interface KerasModelConfig extends JsonObject {
  class_name: string;
  config: Json;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);
/** Wrappers whose config holds one inner layer under `layer` (Bidirectional may add `backward_layer`). */
const WRAPPER_KEYS = ['layer', 'backward_layer'];

/** Config keys only Keras 1 wrote (Keras 2 renamed every one of them). */
const KERAS1_KEYS = new Set([
  'nb_filter', 'nb_row', 'nb_col', 'dim_ordering', 'border_mode', 'subsample', 'output_dim', 'input_dtype',
  'W_regularizer', 'b_regularizer', 'W_constraint', 'b_constraint', 'filter_length', 'subsample_length', 'nb_conv',
]);
const KERAS1_CLASSES = new Set(['Convolution1D', 'Convolution2D', 'Convolution3D', 'AtrousConvolution2D', 'Deconvolution2D', 'Merge']);

/** Layers that wrap Python code or TensorFlow ops: no file holds what they compute. */
const PYTHON_CODE_CLASSES: Record<string, string> = {
  Lambda: 'a Lambda layer holds Python code, which cannot run outside Python',
  TFOpLambda: 'a TFOpLambda layer wraps a TensorFlow operation called in Python, which TensorFlow.js cannot rebuild',
  SlicingOpLambda: 'a SlicingOpLambda layer wraps a Python slice of a tensor, which TensorFlow.js cannot rebuild',
  TensorFlowOpLayer: 'a TensorFlowOpLayer wraps a TensorFlow operation called in Python, which TensorFlow.js cannot rebuild',
};

/**
 * Standard Keras layers that act only while training (dropout, noise, an activity penalty): identity at
 * inference, which is all unet-dream runs. The ones TensorFlow.js has no class for are loaded as a
 * Dropout layer of the same name, which both engines run as identity.
 */
export const INFERENCE_IDENTITY_CLASSES: readonly string[] = Object.freeze([
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization',
]);

/** One line per training-only layer of a config: what the loader tells a --verbose user. */
export function inferenceIdentityNotes(modelConfig: Json): string[] {
  return listLayers(modelConfig)
    .filter((l) => INFERENCE_IDENTITY_CLASSES.includes(l.className))
    .map((l) => `layer "${l.name}" (${l.className}) acts only in training: loaded as identity`);
}

/**
 * Rewrites every training-only layer tfjs cannot build (SpatialDropout2D/3D, ActivityRegularization)
 * into a Dropout of the same name: identity at inference, and the graph keeps its names and links.
 */
export function rewriteInferenceIdentities(value: Json): Json {
  if (Array.isArray(value)) return value.map(rewriteInferenceIdentities);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = rewriteInferenceIdentities(v);
  const cls = out.class_name;
  if (typeof cls === 'string' && INFERENCE_IDENTITY_CLASSES.includes(cls) && !isRegisteredClass(cls) && isObject(out.config)) {
    const c = out.config;
    const config: JsonObject = { name: c.name ?? null, trainable: c.trainable ?? true, rate: typeof c.rate === 'number' ? c.rate : 0 };
    for (const key of ['dtype', 'batch_input_shape']) if (key in c) config[key] = c[key]!;
    out.class_name = 'Dropout';
    out.config = config;
  }
  return out;
}

function registeredClasses(): Record<string, unknown> {
  // SerializationMap is the registry modelFromJSON deserialises from: asking it avoids a second list to keep in sync.
  const map = (tf.serialization.SerializationMap as unknown as { getMap(): { classNameMap: Record<string, unknown> } }).getMap();
  return map.classNameMap;
}

/** Whether TensorFlow.js can deserialise a class by this name (layers, initializers, regularizers, constraints). */
export function isRegisteredClass(className: string): boolean {
  return Object.prototype.hasOwnProperty.call(registeredClasses(), className);
}

export interface LayerEntry {
  /** Layer name, with enclosing model names for nested models: `outer/inner`. */
  name: string;
  className: string;
  config: JsonObject;
}

/** The layers of a (possibly nested) model config, depth first, wrapped layers included. */
export function listLayers(modelConfig: Json, prefix = ''): LayerEntry[] {
  const out: LayerEntry[] = [];
  const visit = (entry: Json, where: string) => {
    if (!isObject(entry) || typeof entry.class_name !== 'string') return;
    const config = isObject(entry.config) ? entry.config : {};
    const name = typeof config.name === 'string' ? config.name : typeof entry.name === 'string' ? entry.name : '?';
    const full = where ? `${where}/${name}` : name;
    out.push({ name: full, className: entry.class_name, config });
    if (MODEL_CLASSES.has(entry.class_name)) {
      for (const layer of layersOf(entry.config)) visit(layer, full);
    }
    for (const key of WRAPPER_KEYS) {
      if (isObject(config[key])) visit(config[key], full);
    }
  };
  for (const layer of layersOf(isObject(modelConfig) && 'class_name' in modelConfig ? modelConfig.config : modelConfig)) {
    visit(layer, prefix);
  }
  return out;
}

function layersOf(config: Json | undefined): Json[] {
  if (Array.isArray(config)) return config; // Keras <= 2.1 Sequential: the config is the layer list
  if (isObject(config) && Array.isArray(config.layers)) return config.layers;
  return [];
}

function findKeras1Keys(value: Json, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) findKeras1Keys(v, found);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (KERAS1_KEYS.has(k)) found.add(k);
      findKeras1Keys(v, found);
    }
  }
}

export function keras1Refusal(file: string, what: string): UsageError {
  const base = path.basename(file);
  const stem = base.replace(/\.[^.]*$/, '');
  return new UsageError(
    `${file}: Keras 1 files are not supported (${what}). Re-save it with Keras 2: in Python with standalone Keras 2.0-2.3 ` +
      `(pip install "keras<2.4"), model = keras.models.load_model('${base}') then model.save('${stem}-keras2.h5') ` +
      `(Keras 2 converts Keras 1 configs and weights when it loads them), and pass the new file.`,
  );
}

/** Throws the Keras 1 refusal when the version or the config says Keras 1. */
export function checkNotKeras1(file: string, kerasVersion: string | undefined, modelConfig: Json | undefined): void {
  const evidence: string[] = [];
  if (kerasVersion !== undefined && /^1(\.|$)/.test(kerasVersion.trim())) evidence.push(`keras_version ${kerasVersion}`);
  if (modelConfig !== undefined) {
    const keys = new Set<string>();
    findKeras1Keys(modelConfig, keys);
    const classes = [...new Set(listLayers(modelConfig).map((l) => l.className).filter((c) => KERAS1_CLASSES.has(c)))];
    if (classes.length) evidence.push(`Keras 1 layer class${classes.length > 1 ? 'es' : ''} ${classes.join(', ')}`);
    if (keys.size) evidence.push(`Keras 1 layer settings ${[...keys].slice(0, 4).join(', ')}`);
  }
  if (evidence.length > 0) throw keras1Refusal(file, evidence.join('; '));
}

/** Refuses layers TensorFlow.js cannot build, naming the layer and its class. */
export function checkLayerClasses(file: string, modelConfig: Json): void {
  for (const layer of listLayers(modelConfig)) {
    const why = PYTHON_CODE_CLASSES[layer.className];
    if (why) {
      throw new UsageError(
        `${file}: layer "${layer.name}" has class ${layer.className}: ${why}. Replace it with built-in Keras layers ` +
          `(or move the computation before or after the model), re-save the model, and load the new file.`,
      );
    }
    if (!isRegisteredClass(layer.className) && !INFERENCE_IDENTITY_CLASSES.includes(layer.className)) {
      throw new UsageError(
        `${file}: layer "${layer.name}" has class ${layer.className}, a custom or unsupported layer class that ` +
          `TensorFlow.js cannot build. Replace it with built-in Keras layers, re-save the model, and load the new file.`,
      );
    }
    const groups = layer.config.groups;
    if (typeof groups === 'number' && groups > 1) {
      throw new UsageError(`${file}: layer "${layer.name}" (${layer.className}) uses grouped convolution (groups=${groups}), which TensorFlow.js does not support`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Normalisation into the Keras 2 form.

/** Keras 3 / tf.keras dtype policies (`{class_name: 'DTypePolicy', config: {name}}`) become plain dtype strings. */
function plainDtype(value: Json): Json {
  if (isObject(value) && isObject(value.config) && typeof value.config.name === 'string') {
    const name = value.config.name;
    // mixed precision keeps float32 variables; tfjs computes in float32 anyway
    return name.startsWith('mixed_') || name === 'float16' || name === 'bfloat16' ? 'float32' : name;
  }
  return value;
}

/** A Keras 3 `__keras_tensor__` reference -> a Keras 2 `[layer, node, tensor, kwargs]` entry. */
function kerasTensorRef(value: Json): Json[] | undefined {
  if (isObject(value) && value.class_name === '__keras_tensor__' && isObject(value.config)) {
    const history = value.config.keras_history;
    if (Array.isArray(history) && history.length === 3) return [history[0]!, history[1]!, history[2]!, {}];
  }
  return undefined;
}

function collectTensorRefs(value: Json, out: Json[][]): void {
  const ref = kerasTensorRef(value);
  if (ref) {
    out.push(ref);
  } else if (Array.isArray(value)) {
    for (const v of value) collectTensorRefs(v, out);
  }
}

/** Keras 3 nodes `{args, kwargs}` -> Keras 2 nodes `[[layer, node, tensor, kwargs], ...]`. */
function convertInboundNodes(nodes: Json): Json {
  if (!Array.isArray(nodes)) return nodes;
  return nodes.map((node) => {
    if (!isObject(node) || !('args' in node)) return node;
    const refs: Json[][] = [];
    collectTensorRefs(node.args ?? [], refs);
    const kwargs: JsonObject = {};
    if (isObject(node.kwargs)) {
      for (const [k, v] of Object.entries(node.kwargs)) {
        const r: Json[][] = [];
        collectTensorRefs(v, r);
        if (r.length === 0) kwargs[k] = v;
      }
    }
    return refs.map((r) => [r[0]!, r[1]!, r[2]!, kwargs]);
  });
}

/** `["input_1", 0, 0]` (Keras 3, one input) -> `[["input_1", 0, 0]]`. */
function tensorList(value: Json): Json {
  if (Array.isArray(value) && value.length === 3 && typeof value[0] === 'string' && typeof value[1] === 'number') return [value];
  return value;
}

const DROP_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id']);
const REGULARISER_LIKE = /_(initializer|regularizer|constraint)$/;

function normaliseLayerConfig(className: string, config: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'dtype') {
      out.dtype = plainDtype(v);
    } else if (k === 'batch_shape' && className === 'InputLayer') {
      out.batch_input_shape = v; // Keras 3 spelling
    } else if (REGULARISER_LIKE.test(k) && isObject(v) && typeof v.class_name === 'string' && !isRegisteredClass(v.class_name)) {
      // weights are loaded from the file and training options do not matter here: an initializer,
      // regularizer or constraint tfjs does not know is dropped rather than failing the whole model
      continue;
    } else if (k === 'optional' && className === 'InputLayer') {
      continue;
    } else if (WRAPPER_KEYS.includes(k) && isObject(v)) {
      out[k] = normaliseEntry(v);
    } else {
      out[k] = stripSerialisationKeys(v);
    }
  }
  return out;
}

function stripSerialisationKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripSerialisationKeys);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (DROP_KEYS.has(k)) continue;
    out[k] = stripSerialisationKeys(v);
  }
  return out;
}

function normaliseEntry(entry: JsonObject): JsonObject {
  const className = String(entry.class_name);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(entry)) {
    if (DROP_KEYS.has(k)) continue;
    if (k === 'config') {
      out.config = MODEL_CLASSES.has(className) ? normaliseModelBody(className, v) : isObject(v) ? normaliseLayerConfig(className, v) : v;
    } else if (k === 'inbound_nodes') {
      out.inbound_nodes = convertInboundNodes(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function normaliseModelBody(className: string, body: Json): Json {
  if (Array.isArray(body)) {
    // Keras <= 2.1 Sequential: a bare list of layers
    return { name: 'sequential', layers: body.map((l) => (isObject(l) ? normaliseEntry(l) : l)) };
  }
  if (!isObject(body)) return body;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'layers' && Array.isArray(v)) out.layers = v.map((l) => (isObject(l) ? normaliseEntry(l) : l));
    else if (k === 'input_layers' || k === 'output_layers') out[k] = tensorList(v);
    else if (k === 'dtype') out.dtype = plainDtype(v);
    else if (k === 'build_input_shape') continue;
    else out[k] = stripSerialisationKeys(v);
  }
  if (className === 'Sequential' && Array.isArray(out.layers)) {
    // A Sequential model whose input is known only from build_input_shape (tf.keras/Keras 3): give it to
    // the first layer, as tfjs needs the input shape on the first layer.
    const first = out.layers[0];
    const buildShape = isObject(body) ? body.build_input_shape : undefined;
    if (isObject(first) && first.class_name !== 'InputLayer' && isObject(first.config) && first.config.batch_input_shape == null && Array.isArray(buildShape)) {
      first.config = { ...first.config, batch_input_shape: buildShape };
    }
  }
  return out;
}

/** Rewrites a Keras 2 / tf.keras 2 / Keras 3 model config into the Keras 2 form tfjs reads. */
export function normaliseModelConfig(config: KerasModelConfig): KerasModelConfig {
  const out = normaliseEntry(rewriteInferenceIdentities(config) as JsonObject) as KerasModelConfig;
  // keep only what describes the model: tfjs would otherwise look at keras_version/backend/training_config
  return { class_name: out.class_name, config: out.config };
}

/** Checks that parsed JSON is a Keras model config and returns it typed. */
export function asModelConfig(value: unknown): KerasModelConfig | undefined {
  if (isObject(value) && typeof value.class_name === 'string' && 'config' in value) return value as KerasModelConfig;
  return undefined;
}

export interface Architecture {
  config: KerasModelConfig;
  kerasVersion?: string;
}

/**
 * Reads a model architecture from JSON: Keras' `model.to_json()` output, or a TensorFlow.js model.json
 * (its `modelTopology`, which may wrap the Keras config in `model_config`). The weights a model.json
 * points to are not read: the caller takes the weights from elsewhere.
 */
export async function readArchitectureJson(file: string): Promise<Architecture> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such architecture file' : code === 'EISDIR' ? 'is a directory, expected a model.json' : `cannot read (${code ?? (err as Error).message})`);
  }
  const json = parseJsonFile(text, file, 'a Keras model.to_json() file or a TensorFlow.js model.json');
  let node: unknown = json;
  let kerasVersion: string | undefined;
  for (let depth = 0; depth < 3 && isObject(node); depth++) {
    if (typeof node.keras_version === 'string') kerasVersion ??= node.keras_version;
    const config = asModelConfig(node);
    if (config) return { config, kerasVersion };
    node = isObject(node.modelTopology) ? node.modelTopology : node.model_config;
  }
  throw new InputError(file, 'not a model architecture: expected a Keras model.to_json() file ({"class_name", "config"}) or a TensorFlow.js model.json with a modelTopology');
}
