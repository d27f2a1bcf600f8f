/**
 * Layer names and channel counts read from a model's topology JSON without loading its weights, so a
 * bad `--layers` or channel index fails (exit 2) before any model loads. Works for `builtin` and
 * TensorFlow.js model.json files (Keras 2 style inbound nodes); for other models (Keras .h5) it
 * returns undefined and the same checks run right after loading, still before any computation.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LayersModel } from '../tf.js';
import { UsageError, didYouMean } from '../errors.js';
import { BUILTIN_MODEL_DIR } from '../model/paths.js';

export interface LayerInfo {
  name: string;
  className: string;
  /** Output channels when the topology says (Conv2D filters, Dense units, concatenations...). */
  channels?: number;
}

type Json = Record<string, unknown>;

function topologyLayers(topology: unknown): Json[] | undefined {
  const t = topology as Json | undefined;
  const model = (t?.model_config ?? t) as Json | undefined;
  const layers = (model?.config as Json | undefined)?.layers;
  return Array.isArray(layers) ? (layers as Json[]) : undefined;
}

function inboundNames(layer: Json): string[] {
  const nodes = layer.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) return [];
  const first = nodes[0];
  if (!Array.isArray(first)) return [];
  return first.map((entry) => (Array.isArray(entry) && typeof entry[0] === 'string' ? entry[0] : '')).filter(Boolean);
}

/** Channels per layer by a walk over the topology: layers keep their input's channels unless they set them. */
export function layersFromTopology(topology: unknown): LayerInfo[] | undefined {
  const layers = topologyLayers(topology);
  if (!layers) return undefined;
  const channels = new Map<string, number | undefined>();
  return layers.map((layer) => {
    const cfg = (layer.config ?? {}) as Json;
    const name = String(layer.name ?? cfg.name);
    const className = String(layer.class_name);
    const ins = inboundNames(layer).map((n) => channels.get(n));
    let c: number | undefined;
    if (className === 'InputLayer') {
      const shape = (cfg.batch_input_shape ?? cfg.batchInputShape) as (number | null)[] | undefined;
      c = shape?.[shape.length - 1] ?? undefined;
    } else if (typeof cfg.filters === 'number') c = cfg.filters;
    else if (typeof cfg.units === 'number') c = cfg.units;
    else if (className === 'Concatenate') c = ins.every((v) => v !== undefined) ? ins.reduce((a, b) => a! + b!, 0) : undefined;
    else if (className === 'Flatten' || className === 'Reshape' || className === 'Lambda') c = undefined;
    else c = ins[0];
    channels.set(name, c);
    return { name, className, channels: c };
  });
}

/**
 * What `--model SOURCE` names, without weights; undefined when only loading can tell. Synchronous:
 * validation (record, validate, then run) is, and a topology JSON is small.
 */
export function peekModelLayers(source: string): LayerInfo[] | undefined {
  let file: string | undefined;
  if (source === 'builtin') {
    file = path.join(BUILTIN_MODEL_DIR, 'model.json');
    if (!existsSync(file)) return undefined;
  } else if (source.toLowerCase().endsWith('.json')) file = source;
  else if (existsSync(path.join(source, 'model.json'))) file = path.join(source, 'model.json');
  if (!file) return undefined;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Json;
    return layersFromTopology(json.modelTopology);
  } catch {
    return undefined; // unreadable here: loadModel reports it with the file's name
  }
}

/** The same facts from a loaded model (exact shapes). */
export function layersFromModel(model: LayersModel): LayerInfo[] {
  return model.layers.map((l) => {
    const shape = l.outputShape as (number | null)[];
    const last = Array.isArray(shape[0]) ? undefined : shape[shape.length - 1];
    return { name: l.name, className: l.getClassName(), channels: last ?? undefined };
  });
}

/** Layers one can take feature maps of (everything but the input). */
export function mapLayers(layers: readonly LayerInfo[]): string[] {
  return layers.filter((l) => l.className !== 'InputLayer').map((l) => l.name);
}

/**
 * One line naming the option, the bad layer and the valid ones: `OPTION: unknown layer "x" (did you mean
 * "y"?); valid layers: ...`. The error carries OPTION, so the CLI names the flag the user typed.
 */
export function checkLayerName(option: string, name: string, layers: readonly LayerInfo[]): LayerInfo {
  const valid = mapLayers(layers);
  const found = layers.find((l) => l.name === name && l.className !== 'InputLayer');
  if (found) return found;
  const hint = didYouMean(name, valid);
  throw new UsageError(`${option}: unknown layer "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; valid layers: ${valid.join(', ')}`, option);
}

export function checkChannel(option: string, layer: LayerInfo, channel: number): void {
  if (layer.channels !== undefined && (channel < 0 || channel >= layer.channels)) {
    throw new UsageError(`${option}: channel ${channel} is out of range: layer ${layer.name} has ${layer.channels} channels, valid 0-${layer.channels - 1}`, option);
  }
}

/** Every name of `names` is a layer of `layers` (the first unknown one is the error). */
export function checkLayerNames(option: string, names: readonly string[], layers: readonly LayerInfo[]): void {
  for (const name of names) checkLayerName(option, name, layers);
}

/** Channel `channel` exists in every layer of `names` that is known (unknown names are checkLayerNames' to report). */
export function checkChannelInLayers(option: string, channel: number | undefined, names: readonly string[], layers: readonly LayerInfo[]): void {
  if (channel === undefined) return;
  for (const name of names) {
    const info = layers.find((l) => l.name === name && l.className !== 'InputLayer');
    if (info) checkChannel(option, info, channel);
  }
}
