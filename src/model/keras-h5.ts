/**
 * Keras HDF5 models (`model.save('x.h5')`, `model.save_weights('x.h5')`) read and written without Python:
 * h5wasm reads the file, `tf.models.modelFromJSON` rebuilds the architecture from the `model_config`
 * attribute, and the weights are matched to the rebuilt layers by name.
 *
 * Layout (Keras 2.x and tf.keras 2.x):
 *   /                      attrs keras_version, backend, model_config (JSON), [training_config]
 *   /model_weights         attrs layer_names (+ keras_version, backend)
 *   /model_weights/<layer> attr weight_names, e.g. ["dconv64/kernel:0", "dconv64/bias:0"]; each name is the
 *                          dataset's path inside the layer group (usually <layer>/<weight>:0, but tf.keras and
 *                          nested models differ, so the names are followed rather than the layout assumed)
 * A weights-only file (save_weights) has the layer groups and layer_names at the root and no model_config.
 * Long name lists are split by Keras into `layer_names0`, `layer_names1`, ... (the HDF5 64 KiB header limit).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import h5wasm, { type Dataset, type Group } from 'h5wasm/node';
import { tf, type LayersModel } from '../tf.js';
import { InputError, OutputError, UsageError } from '../errors.js';
import {
  asModelConfig,
  checkLayerClasses,
  checkNotKeras1,
  inferenceIdentityNotes,
  keras1Refusal,
  normaliseModelConfig,
  readArchitectureJson,
  type Architecture,
  type KerasModelConfig,
} from './keras-config.js';
import { jsonErrorPosition } from './json-text.js';

export interface LoadKerasOptions {
  /**
   * A model architecture for a weights-only file: Keras' `model.to_json()` output or a TensorFlow.js
   * model.json (its weights are ignored). With a full model file it replaces the file's own architecture.
   */
  architecture?: string;
  /** Told one line per thing a user may want to know (a training-only layer loaded as identity). */
  onNote?: (note: string) => void;
}

/** The Keras version written into saved files: a 2.x release whose loader reads every key tfjs writes. */
export const SAVED_KERAS_VERSION = '2.2.4';
/** Keras splits attributes larger than this (HDF5's object header limit, as Keras counts it). */
const HDF5_ATTRIBUTE_LIMIT = 64512;
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

let h5Ready: Promise<void> | undefined;
let h5Module: Awaited<typeof h5wasm.ready> | undefined;
/** Loads the HDF5 library once; its errors then throw instead of being printed on stderr. */
function ready(): Promise<void> {
  h5Ready ??= h5wasm.ready.then((module) => {
    module.activate_throwing_error_handler();
    h5Module = module;
    confineOpens(module.FS as unknown as EmscriptenFs);
  });
  return h5Ready;
}

interface EmscriptenFs {
  open: (path: unknown, ...rest: unknown[]) => unknown;
  ErrnoError: new (errno: number) => Error;
}

/** While model files are being read, the only files the HDF5 library may open (empty: no read running). */
const openable = new Set<string>();
/** Files the library tried to open and was refused, for the message. */
const refusedOpens: string[] = [];
const EMSCRIPTEN_EACCES = 2;

/**
 * The node build of h5wasm opens files straight from the host, and HDF5 can make a dataset read
 * another file (external storage, an external link, a virtual dataset's sources). So the library may
 * open only the files this module handed it; any other open fails, whatever in the file asked for it.
 */
function confineOpens(fsys: EmscriptenFs): void {
  const open = fsys.open;
  fsys.open = function (this: unknown, target: unknown, ...rest: unknown[]) {
    if (openable.size > 0 && typeof target === 'string' && !openable.has(path.resolve(target))) {
      refusedOpens.push(target);
      throw new fsys.ErrnoError(EMSCRIPTEN_EACCES);
    }
    return open.call(this, target, ...rest);
  };
}

/** Runs `fn` with `file` among the files HDF5 may open (and no other file, while it runs). */
async function withHdf5File<R>(file: string, fn: () => R | Promise<R>): Promise<R> {
  await ready();
  const target = path.resolve(file);
  openable.add(target);
  refusedOpens.length = 0;
  try {
    return await fn();
  } finally {
    openable.delete(target);
  }
}

/**
 * Refuses what makes an HDF5 file read other files: external links anywhere in it, and virtual
 * datasets (external storage is refused when read, by confineOpens, as HDF5 does not say which
 * datasets use it).
 */
function checkSelfContained(file: string, root: Group): void {
  const visit = (group: Group) => {
    for (const name of group.keys()) {
      const where = group.path === '/' ? `/${name}` : `${group.path}/${name}`;
      const type = group.get_type(where);
      if (type === h5Module!.H5G_UDLINK) {
        const link = group.get_external_link(where) as { filename: string; obj_path: string };
        throw new InputError(file, `${where} is an external link to ${JSON.stringify(link.filename)}; a model file must hold its own data, links to other files are refused`);
      }
      if (type === h5Module!.H5G_LINK) continue; // a dangling soft link: nothing to read
      const node = group.get(name);
      if (node instanceof h5wasm.Group) visit(node);
      else if (node instanceof h5wasm.Dataset && (node.metadata as { virtual_sources?: { file_name: string }[] }).virtual_sources?.length) {
        const sources = (node.metadata as { virtual_sources: { file_name: string }[] }).virtual_sources.map((v) => v.file_name);
        throw new InputError(file, `${where} is a virtual dataset reading ${sources.map((f) => JSON.stringify(f)).join(', ')}; virtual datasets are refused in model files`);
      }
    }
  };
  visit(root);
}

/** The message for a read that failed because HDF5 tried to open another file. */
function refusedOpenReason(): string | undefined {
  if (refusedOpens.length === 0) return undefined;
  return `its data would be read from another file (${JSON.stringify(refusedOpens[0])}, by HDF5 external storage or a link); a model file must hold its own data`;
}

/** The most specific line of an HDF5 error stack ("file signature not found", "truncated file: ..."). */
function hdf5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const reasons = [...text.matchAll(/ in [\w.]+\(\): ([^\n]+)/g)].map((m) => m[1]!.trim());
  return reasons.at(-1) ?? text.split('\n')[0]!.trim();
}

// ---------------------------------------------------------------------------------------------
// Small HDF5 helpers.

type FileKind = 'hdf5' | 'zip' | 'other';

/** HDF5 puts its signature at offset 0 or, after a user block, at 512, 1024, 2048, ... */
async function sniff(file: string, size: number): Promise<{ kind: FileKind; head: Buffer }> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 4096));
    await handle.read(head, 0, head.length, 0);
    if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return { kind: 'zip', head };
    const probe = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      await handle.read(probe, 0, 8, offset);
      if (probe.equals(HDF5_SIGNATURE)) return { kind: 'hdf5', head };
    }
    return { kind: 'other', head };
  } finally {
    await handle.close();
  }
}

function hasAttr(obj: Group | Dataset, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj.attrs, name);
}

function stringAttr(obj: Group, name: string): string | undefined {
  if (!hasAttr(obj, name)) return undefined;
  const value = obj.attrs[name]!.value;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** A list-of-strings attribute, joining Keras' chunked form (`name0`, `name1`, ...). */
function stringListAttr(obj: Group, name: string): string[] | undefined {
  const one = (attr: string): string[] => {
    const value = obj.attrs[attr]!.value;
    if (typeof value === 'string') return [value];
    if (Array.isArray(value)) return value.map((v) => String(v));
    if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 0) return []; // h5py writes [] as float64
    throw new Error(`attribute ${attr} of ${obj.path} is not a list of names`);
  };
  if (hasAttr(obj, name)) return one(name);
  if (!hasAttr(obj, `${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; hasAttr(obj, `${name}${i}`); i++) out.push(...one(`${name}${i}`));
  return out;
}

/** Follows a relative path through groups without asking HDF5 about links that do not exist. */
function child(group: Group, relPath: string): Group | Dataset | undefined {
  let node: Group | Dataset = group;
  for (const part of relPath.split('/').filter(Boolean)) {
    if (!(node instanceof h5wasm.Group) || !node.keys().includes(part)) return undefined;
    const next: unknown = node.get(part);
    if (!(next instanceof h5wasm.Group) && !(next instanceof h5wasm.Dataset)) return undefined;
    node = next;
  }
  return node;
}

function isGroup(node: unknown): node is Group {
  return node instanceof h5wasm.Group;
}

// ---------------------------------------------------------------------------------------------
// Loading.

/**
 * Loads a Keras HDF5 model (Keras 2.x, tf.keras 2.x; Sequential and functional) as a tfjs LayersModel.
 * Refuses, with what to do instead: Keras 1 files, Lambda and custom layers, Keras 3 `.keras` archives,
 * and weights-only files without `options.architecture`. Unreadable files are InputErrors.
 */
export async function loadKerasH5(file: string, options: LoadKerasOptions = {}): Promise<LayersModel> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) throw new InputError(file, 'no such file');
  if (stat.isDirectory()) throw new InputError(file, 'is a directory, expected a Keras .h5 file');
  const { kind, head } = await sniff(file, stat.size).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(file, `cannot read (${err.code ?? err.message})`);
  });
  if (kind === 'zip') throw zipRefusal(file, head);
  if (kind !== 'hdf5') throw new InputError(file, 'not an HDF5 file (no HDF5 signature); expected a Keras .h5 model saved with model.save()');

  const architecture = options.architecture ? await readArchitectureJson(options.architecture) : undefined;
  return withHdf5File(file, () => readKerasFile(file, architecture, options));
}

async function readKerasFile(file: string, architecture: Architecture | undefined, options: LoadKerasOptions): Promise<LayersModel> {
  let h5: InstanceType<typeof h5wasm.File>;
  try {
    h5 = new h5wasm.File(path.resolve(file), 'r');
  } catch (err) {
    throw new InputError(file, `cannot read as HDF5: ${hdf5Reason(err)}`);
  }
  try {
    checkSelfContained(file, h5);
    const plan = planLoad(file, h5, architecture, options.architecture);
    const model = await buildModel(plan.source, plan.config);
    for (const note of inferenceIdentityNotes(plan.config)) options.onNote?.(note);
    try {
      assignWeights(file, model, plan.weights);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError) throw err;
    throw new InputError(file, `cannot read: ${refusedOpenReason() ?? hdf5Reason(err)}`);
  } finally {
    h5.close();
  }
}

interface LoadPlan {
  config: KerasModelConfig;
  /** The file the config came from, for messages. */
  source: string;
  /** The group holding one subgroup per layer. */
  weights: Group;
}

function planLoad(file: string, h5: InstanceType<typeof h5wasm.File>, architecture: Architecture | undefined, architectureFile: string | undefined): LoadPlan {
  const kerasVersion = stringAttr(h5, 'keras_version');
  const configText = stringAttr(h5, 'model_config');
  let weights: Group;
  let config: KerasModelConfig | undefined;
  let source = file;
  if (configText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(configText);
    } catch (err) {
      throw new InputError(file, `the model_config attribute is not valid JSON${jsonErrorPosition(err)}`);
    }
    config = asModelConfig(parsed);
    if (!config) throw new InputError(file, 'the model_config attribute is not a Keras model config (no class_name/config)');
    checkNotKeras1(file, kerasVersion, config);
    const group = child(h5, 'model_weights');
    if (!isGroup(group)) throw new InputError(file, 'has a model_config but no model_weights group (saved without weights?)');
    weights = group;
  } else if (stringListAttr(h5, 'layer_names') !== undefined) {
    checkNotKeras1(file, kerasVersion, undefined);
    if (looksLikeKeras1Weights(h5)) throw keras1Refusal(file, 'Keras 1 weight names such as convolution2d_1_W');
    if (!architecture) {
      throw new UsageError(
        `${file}: a weights-only Keras file (saved with model.save_weights): it holds no architecture. ` +
          `Pass the architecture too: --architecture model.json (the output of Keras model.to_json(), or a TensorFlow.js model.json)`,
      );
    }
    weights = h5;
  } else if (h5.keys().includes('layers') || h5.keys().includes('_layer_checkpoint_dependencies')) {
    throw new UsageError(
      `${file}: a Keras 3 weights file (model.weights.h5), which is not supported. In Python, save the whole model ` +
        `as HDF5 instead: model.save('model.h5'), and pass that file.`,
    );
  } else {
    throw new InputError(file, 'an HDF5 file but not a Keras model: no model_config attribute and no layer_names');
  }
  if (architecture) {
    checkNotKeras1(architectureFile!, architecture.kerasVersion, architecture.config);
    config = architecture.config;
    source = architectureFile!;
  }
  checkLayerClasses(source, config!);
  return { config: config!, source, weights };
}

function looksLikeKeras1Weights(root: Group): boolean {
  for (const name of stringListAttr(root, 'layer_names') ?? []) {
    const group = child(root, name);
    if (!isGroup(group)) continue;
    const names = stringListAttr(group, 'weight_names') ?? [];
    if (names.some((n) => !n.includes(':') && /_(W|b|gamma|beta|running_mean|running_std|U|W_[a-z]|b_[a-z])$/.test(n))) return true;
  }
  return false;
}

function zipRefusal(file: string, head: Buffer): UsageError | InputError {
  const text = head.toString('latin1');
  if (!text.includes('config.json') && !text.includes('metadata.json') && !text.includes('model.weights.h5')) {
    return new InputError(file, 'is a zip archive, not an HDF5 file; expected a Keras .h5 model saved with model.save()');
  }
  const base = path.basename(file);
  const stem = base.replace(/\.[^.]*$/, '');
  return new UsageError(
    `${file}: a Keras 3 .keras archive (a zip of config.json and model.weights.h5), which is not supported. ` +
      `In Python, re-save it as HDF5: keras.models.load_model('${base}').save('${stem}.h5') ` +
      `(Keras 3 writes the legacy HDF5 format for a .h5 name; tf.keras 2 writes it too), then pass the .h5 file; ` +
      `or convert it to a TensorFlow.js model with tensorflowjs_converter and pass its model.json.`,
  );
}

async function buildModel(source: string, config: KerasModelConfig): Promise<LayersModel> {
  const topology = normaliseModelConfig(config);
  try {
    return await tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  } catch (err) {
    throw new UsageError(`${source}: TensorFlow.js cannot rebuild this model: ${(err as Error).message.split('\n')[0]}`);
  }
}

interface FileLayer {
  name: string;
  group: Group;
  weightNames: string[];
}

function readFileLayers(file: string, root: Group): FileLayer[] {
  const names = stringListAttr(root, 'layer_names') ?? root.keys().filter((k) => isGroup(child(root, k)));
  return names.map((name) => {
    const group = child(root, name);
    if (!isGroup(group)) throw new InputError(file, `layer_names lists "${name}" but the file has no group ${root.path === '/' ? '' : root.path}/${name}`);
    return { name, group, weightNames: stringListAttr(group, 'weight_names') ?? [] };
  });
}

type Variable = (typeof tf.layers.Layer.prototype)['weights'][number];

/** Reads every weight first and sets them only when all of them fit: no half-loaded model. */
function assignWeights(file: string, model: LayersModel, root: Group): void {
  const fileLayers = readFileLayers(file, root).filter((l) => l.weightNames.length > 0);
  const modelLayers = model.layers.filter((l) => l.weights.length > 0);
  const byName = new Map(fileLayers.map((l) => [l.name, l]));
  let pairs: [tf.layers.Layer, FileLayer][];
  if (modelLayers.every((l) => byName.has(l.name))) {
    pairs = modelLayers.map((l) => [l, byName.get(l.name)!]);
  } else if (modelLayers.every((l) => !byName.has(l.name)) && modelLayers.length === fileLayers.length) {
    // No layer name in common (e.g. an architecture whose layers were auto-named in another session):
    // pair layers in order, as Keras' load_weights does; shapes are still checked below.
    pairs = modelLayers.map((l, i) => [l, fileLayers[i]!]);
  } else {
    const missing = modelLayers.filter((l) => !byName.has(l.name)).map((l) => l.name);
    throw new InputError(file, `no weights for layer${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (the file has weights for ${fileLayers.map((l) => l.name).join(', ') || 'no layer'})`);
  }
  const used = new Set(pairs.map(([, f]) => f.name));
  const extra = fileLayers.filter((l) => !used.has(l.name)).map((l) => l.name);
  if (extra.length > 0) {
    throw new InputError(file, `the file has weights for layer${extra.length > 1 ? 's' : ''} ${extra.join(', ')}, which the model does not have`);
  }

  const planned: { layer: tf.layers.Layer; values: tf.Tensor[] }[] = [];
  try {
    for (const [layer, fileLayer] of pairs) {
      const order = matchWeightNames(file, layer, fileLayer);
      const values: tf.Tensor[] = [];
      planned.push({ layer, values });
      layer.weights.forEach((variable, i) => {
        const weightName = fileLayer.weightNames[order[i]!]!;
        const { data, shape } = readWeight(file, fileLayer, weightName);
        if (shape.length !== variable.shape.length || shape.some((d, k) => d !== variable.shape[k])) {
          throw new InputError(
            file,
            `layer "${layer.name}": weight ${weightName} has shape [${shape.join(', ')}] in the file but the model's ${layer.getClassName()} layer expects [${variable.shape.join(', ')}]`,
          );
        }
        values.push(tf.tensor(data, variable.shape as number[], 'float32'));
      });
    }
    for (const { layer, values } of planned) layer.setWeights(values);
  } finally {
    for (const { values } of planned) tf.dispose(values);
  }
}

const stripIndex = (name: string) => name.replace(/:\d+$/, '');
const loose = (part: string) => part.replace(/_\d+$/, '');

/** How well a file weight name fits a model weight name, comparing path components from the end. */
function nameScore(modelName: string, fileName: string): number {
  const a = stripIndex(modelName).split('/');
  const b = stripIndex(fileName).split('/');
  let score = 0;
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const x = a[a.length - i]!;
    const y = b[b.length - i]!;
    if (x === y) score += 2;
    else if (loose(x) === loose(y)) score += 1;
    else break;
  }
  return score;
}

/**
 * For each of the layer's variables (tfjs order), the index of its weight in the file, matched by name:
 * "conv1/kernel" finds "conv1_1/kernel:0". Position decides only between equally good names.
 */
function matchWeightNames(file: string, layer: tf.layers.Layer, fileLayer: FileLayer): number[] {
  const variables: Variable[] = layer.weights;
  const names = fileLayer.weightNames;
  if (variables.length !== names.length) {
    throw new InputError(
      file,
      `layer "${layer.name}": the file has ${names.length} weights (${names.join(', ')}) but the model's ${layer.getClassName()} layer has ${variables.length} (${variables.map((v) => v.originalName).join(', ')})`,
    );
  }
  const used = new Set<number>();
  return variables.map((variable, i) => {
    let best = 0;
    let candidates: number[] = [];
    names.forEach((name, j) => {
      if (used.has(j)) return;
      const score = nameScore(variable.originalName, name);
      if (score > best) {
        best = score;
        candidates = [j];
      } else if (score === best && score > 0) {
        candidates.push(j);
      }
    });
    let pick: number;
    if (candidates.length === 1) pick = candidates[0]!;
    else if (candidates.includes(i)) pick = i;
    else if (candidates.length > 0) pick = candidates[0]!;
    else pick = !used.has(i) ? i : names.findIndex((_, j) => !used.has(j));
    used.add(pick);
    return pick;
  });
}

function readWeight(file: string, layer: FileLayer, weightName: string): { data: Float32Array; shape: number[] } {
  const node = child(layer.group, weightName);
  if (!(node instanceof h5wasm.Dataset)) {
    throw new InputError(file, `layer "${layer.name}": weight ${weightName} is listed in weight_names but no dataset ${layer.group.path}/${weightName} exists`);
  }
  const shape = node.shape ?? [];
  let value: unknown;
  try {
    value = node.value;
  } catch (err) {
    throw new InputError(file, `layer "${layer.name}": cannot read weight ${weightName}: ${refusedOpenReason() ?? `(${node.dtype}) ${hdf5Reason(err)}`}`);
  }
  let data: Float32Array;
  if (value instanceof Float32Array) data = value;
  else if (value instanceof Float64Array || value instanceof Int32Array || value instanceof Int16Array || value instanceof Int8Array || value instanceof Uint8Array || value instanceof Uint16Array || value instanceof Uint32Array) data = Float32Array.from(value);
  else if (typeof value === 'number') data = Float32Array.of(value);
  else throw new InputError(file, `layer "${layer.name}": weight ${weightName} has data type ${JSON.stringify(node.dtype)}, expected floating point`);
  return { data, shape };
}

// ---------------------------------------------------------------------------------------------
// Saving.

let tmpCounter = 0;

/**
 * Writes a Keras-readable HDF5 model file (the layout of Keras 2's model.save): root attributes
 * model_config, keras_version, backend; model_weights/<layer>/<weight path>:0 float32 datasets with
 * weight_names and layer_names attributes written as Keras writes them. Atomic: a temp file is renamed
 * into place.
 */
export async function saveKerasH5(model: LayersModel, file: string): Promise<void> {
  await ready();
  const topology = model.toJSON(undefined, false) as unknown as KerasModelConfig;
  const modelConfig = asciiJson({ class_name: topology.class_name, config: topology.config });
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${tmpCounter++}.tmp`);
  try {
    await fs.mkdir(dir, { recursive: true });
    // HDF5 1.8-compatible structures, so the h5py of any Keras 2 release can open the file.
    const h5 = new h5wasm.File(tmp, 'w', { libver: ['earliest', 'v108'] });
    try {
      writeModel(h5, model, modelConfig);
    } finally {
      h5.close();
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    throw new OutputError(file, code ?? hdf5Reason(err));
  }
}

function writeModel(h5: Group, model: LayersModel, modelConfig: string): void {
  // Keras writes these as variable-length ASCII strings.
  h5.create_attribute('keras_version', SAVED_KERAS_VERSION, null, 'A');
  h5.create_attribute('backend', 'tensorflow', null, 'A');
  h5.create_attribute('model_config', modelConfig, null, 'A');
  const root = h5.create_group('model_weights');
  writeStringList(root, 'layer_names', model.layers.map((l) => l.name));
  root.create_attribute('backend', 'tensorflow', null, 'A');
  root.create_attribute('keras_version', SAVED_KERAS_VERSION, null, 'A');
  for (const layer of model.layers) {
    const group = root.create_group(layer.name);
    const names = layer.weights.map((w) => `${w.originalName}:0`);
    writeStringList(group, 'weight_names', names);
    layer.weights.forEach((variable, i) => {
      const values = variable.read();
      const data = values.dtype === 'float32' ? (values.dataSync() as Float32Array) : Float32Array.from(values.dataSync());
      createDataset(group, names[i]!, data, variable.shape as number[]);
    });
  }
}

function createDataset(group: Group, relPath: string, data: Float32Array, shape: number[]): void {
  const parts = relPath.split('/');
  let g = group;
  for (const part of parts.slice(0, -1)) {
    const existing = child(g, part);
    g = isGroup(existing) ? existing : g.create_group(part);
  }
  g.create_dataset({ name: parts.at(-1)!, data, shape, dtype: '<f' });
}

/**
 * A list of names as Keras writes it: fixed-length ASCII strings (what h5py makes of numpy bytes),
 * split into name0, name1, ... past the header limit, and an empty float64 array for no names.
 */
function writeStringList(group: Group, name: string, values: string[]): void {
  if (values.length === 0) {
    group.create_attribute(name, new Float64Array(0), [0]);
    return;
  }
  const width = Math.max(...values.map((v) => Buffer.byteLength(v, 'utf8'))) + 1;
  const perChunk = Math.floor((HDF5_ATTRIBUTE_LIMIT - 1) / width);
  if (perChunk < 1) throw new Error(`a name in ${name} is too long for an HDF5 attribute`);
  if (values.length <= perChunk) {
    group.create_attribute(name, values, [values.length], `A${width}`);
    return;
  }
  for (let i = 0, chunk = 0; i < values.length; i += perChunk, chunk++) {
    const part = values.slice(i, i + perChunk);
    group.create_attribute(`${name}${chunk}`, part, [part.length], `A${width}`);
  }
}

/** JSON with non-ASCII escaped, as Python's json.dumps writes it. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
