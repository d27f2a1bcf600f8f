/**
 * How to ablate one layer cheaply: which part of the network must run again per zeroed filter.
 *
 * Zeroing channel c of layer A's output changes, through channel-wise linear layers (BatchNorm: a
 * scale s_c per channel; nearest or bilinear upsampling; inference-time identities) and channel
 * concatenations, exactly one input channel j of each convolution L that reads it, by -s_c * up(a_c).
 * L's pre-activation therefore changes by that plane convolved with L's kernel slice for channel j, a
 * one-input-channel convolution that costs 1/C_in of L itself. So per filter only the delta
 * convolutions and what lies downstream of the convolutions L run: for `uconv128` of the seed U-Net
 * 0.62 of its 2.42 GMAC downstream per image. This is the "delta" plan.
 *
 * It holds when every path from A leaves the channel-wise region only through convolutions and every
 * concatenation on the way joins A's channels with tensors that do not depend on A (a U-Net decoder
 * layer: its skip connection comes from the encoder). Otherwise (encoder layers, whose skip
 * connections meet their own downstream path) the "masked" plan runs the whole downstream part with
 * A's output multiplied by a channel mask.
 */
import type { LayersModel, tf } from '../tf.js';

interface Node {
  layer: tf.layers.Layer;
  inputs: tf.SymbolicTensor[];
  output: tf.SymbolicTensor;
}

/** A convolution whose input changes in one channel when a filter of A is zeroed. */
export interface DeltaRoute {
  conv: string;
  /** Channel of the convolution's input that carries A's channel 0 (A's channel c is offset + c). */
  offset: number;
  /** Per channel of A: the product of the BatchNorm scales on the way (1 without BatchNorm). */
  scale: Float32Array;
  /** Channel-agnostic layers on the way (upsampling, identities), replayed in the graph on the change. */
  route: string[];
}

export type AblationPlan =
  | { kind: 'delta'; layer: string; routes: DeltaRoute[]; frontier: string[] }
  | { kind: 'masked'; layer: string; frontier: string[]; reason: string };

/** Layers that act on each channel alone, linearly, and that the graph can replay on a one-channel plane. */
const REPLAYED = new Set(['UpSampling2D', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

function nodesOf(model: LayersModel): Node[] {
  const nodes: Node[] = [];
  for (const layer of model.layers) {
    const inbound = (layer as unknown as { inboundNodes: { inputTensors: tf.SymbolicTensor[] }[] }).inboundNodes;
    inbound.forEach((n, i) => {
      const out = layer.inboundNodes.length > 1 ? (layer.getOutputAt(i) as tf.SymbolicTensor) : (layer.output as tf.SymbolicTensor);
      // An InputLayer's node reads the tensor it outputs.
      if (n.inputTensors.length && !n.inputTensors.some((t) => t.id === out.id)) nodes.push({ layer, inputs: n.inputTensors, output: out });
    });
  }
  return nodes;
}

/** Whether each tensor depends on any of `sources` (memoised walk from the model outputs). */
function dependence(model: LayersModel, sources: Set<number>, nodes: Node[]): (t: tf.SymbolicTensor) => boolean {
  const byOutput = new Map(nodes.map((n) => [n.output.id, n]));
  const memo = new Map<number, boolean>();
  const visit = (t: tf.SymbolicTensor): boolean => {
    if (sources.has(t.id)) return true;
    const known = memo.get(t.id);
    if (known !== undefined) return known;
    const node = byOutput.get(t.id);
    const d = node ? node.inputs.map(visit).some(Boolean) : false;
    memo.set(t.id, d);
    return d;
  };
  return visit;
}

/**
 * Layers whose outputs a part of the network downstream of `targets` needs besides them: inputs of
 * nodes that depend on a target but do not depend on one themselves (U-Net skip connections).
 */
export function frontierOfTensors(model: LayersModel, targets: tf.SymbolicTensor[]): string[] {
  const nodes = nodesOf(model);
  const ids = new Set(targets.map((t) => t.id));
  const depends = dependence(model, ids, nodes);
  const inputId = model.inputs[0]!.id;
  const frontier = new Set<string>();
  for (const n of nodes) {
    if (!depends(n.output) || ids.has(n.output.id)) continue;
    for (const t of n.inputs) if (!ids.has(t.id) && t.id !== inputId && !depends(t)) frontier.add(t.sourceLayer.name);
  }
  return [...frontier];
}

/** The layers whose outputs the masked downstream part of `layer` needs besides `layer` itself. */
export function frontierOf(model: LayersModel, layer: string): string[] {
  return frontierOfTensors(model, [model.getLayer(layer).output as tf.SymbolicTensor]);
}

function bnScale(layer: tf.layers.Layer): Float32Array {
  const cfg = layer.getConfig() as { epsilon?: number; scale?: boolean; center?: boolean };
  const eps = typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3;
  const w = layer.getWeights().map((t) => t.dataSync() as Float32Array);
  let i = 0;
  const gamma = cfg.scale === false ? undefined : w[i++];
  if (cfg.center !== false) i++;
  const variance = w[i + 1]!;
  // As the ONNX BatchNorm compiler computes it, so the delta matches the graph it replaces.
  return Float32Array.from(variance, (v, c) => (gamma ? gamma[c]! : 1) / Math.sqrt(v + eps));
}

export function planAblation(model: LayersModel, layer: string): AblationPlan {
  const nodes = nodesOf(model);
  const consumers = new Map<number, Node[]>();
  for (const n of nodes) for (const t of n.inputs) consumers.set(t.id, [...(consumers.get(t.id) ?? []), n]);
  const source = model.getLayer(layer).output as tf.SymbolicTensor;
  const channels = source.shape[3] as number;
  const depends = dependence(model, new Set([source.id]), nodes);
  const outputs = new Set(model.outputs.map((t) => t.id));
  const routes: DeltaRoute[] = [];
  const masked = (reason: string): AblationPlan => ({ kind: 'masked', layer, frontier: frontierOf(model, layer), reason });
  const walk = (t: tf.SymbolicTensor, offset: number, scale: Float32Array, route: string[]): string | undefined => {
    if (outputs.has(t.id)) return `${t.sourceLayer.name} is a model output`;
    const next = consumers.get(t.id) ?? [];
    if (!next.length) return `${t.sourceLayer.name} leads nowhere`;
    for (const n of next) {
      const cls = n.layer.getClassName();
      const cfg = n.layer.getConfig() as { axis?: number; data_format?: string; dataFormat?: string };
      if (n.inputs.filter((x) => x.id === t.id).length > 1) return `${n.layer.name} reads ${t.sourceLayer.name} twice`;
      let why: string | undefined;
      if (cls === 'Conv2D') {
        if (routes.some((r) => r.conv === n.layer.name)) return `${n.layer.name} reads ${layer} twice`;
        routes.push({ conv: n.layer.name, offset, scale, route });
      } else if (cls === 'BatchNormalization') {
        if (cfg.axis !== undefined && cfg.axis !== -1 && cfg.axis !== 3) return `${n.layer.name} normalises axis ${cfg.axis}`;
        const s = bnScale(n.layer);
        why = walk(n.output, offset, Float32Array.from(scale, (v, c) => Math.fround(v * s[offset + c]!)), route);
      } else if (REPLAYED.has(cls)) {
        why = walk(n.output, offset, scale, [...route, n.layer.name]);
      } else if (cls === 'Concatenate') {
        if (cfg.axis !== undefined && cfg.axis !== -1 && cfg.axis !== 3) return `${n.layer.name} concatenates axis ${cfg.axis}`;
        let before = 0;
        for (const x of n.inputs) {
          if (x.id === t.id) break;
          before += x.shape[3] as number;
        }
        const joined = n.inputs.find((x) => x.id !== t.id && depends(x));
        if (joined) return `${n.layer.name} joins ${layer}'s channels with ${joined.sourceLayer.name}, which depends on ${layer}`;
        why = walk(n.output, offset + before, scale, route);
      } else {
        return `${n.layer.name} (${cls}) is not a channel-wise linear layer`;
      }
      if (why) return why;
    }
    return undefined;
  };
  const why = walk(source, 0, new Float32Array(channels).fill(1), []);
  if (why) return masked(why);
  const frontier = frontierOfTensors(model, routes.map((r) => model.getLayer(r.conv).output as tf.SymbolicTensor));
  return { kind: 'delta', layer, routes, frontier };
}
