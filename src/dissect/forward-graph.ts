/**
 * Forward passes for dissection and ablation, until the Engine grows a feature-map method (issue 17):
 * an ONNX graph of our own built with the engine's per-layer compilers (forward halves only), so the
 * layer outputs come out of onnxruntime in NCHW, one contiguous plane per filter.
 *
 * A graph can start at a cut (layer outputs fed in instead of computed) and can scale one layer's
 * output by a per-image channel mask: that is how a batch of (image, zeroed filter) pairs runs the
 * part of the network downstream of the ablated layer, and nothing upstream of it, in one call.
 *
 * It can also return a convolution's pre-activation (`pre:<layer>`) and start a convolution from its
 * cached pre-activation plus a one-input-channel convolution (a "delta conv"): when one channel of the
 * convolution's input changes, its pre-activation changes by that channel's change convolved with the
 * kernel's slice for it, which costs 1/C of the whole convolution (see ablate/plan.ts).
 *
 * All coupling to the engine's compiler internals lives in this file.
 */
import os from 'node:os';
import { ort } from '../engine/onnx/runtime.js';
import type { LayersModel, tf } from '../tf.js';
import { checkInput, layerInput, type PathNode } from '../engine/onnx/compile.js';
import { LAYER_COMPILERS, type Layer, type Value } from '../engine/onnx/layers/index.js';
import { activationName, emitActivation } from '../engine/onnx/layers/activation.js';
import { convSettings } from '../engine/onnx/layers/conv.js';
import { forwardPadAttrs, Ops } from '../engine/onnx/ops.js';
import type { ValueInfo } from '../engine/onnx/graph.js';
import { OnnxUnsupportedError } from '../engine/onnx/errors.js';
import { unknownNameError } from '../errors.js';

export interface ForwardGraphSpec {
  /** Layers whose outputs the graph returns, as `out:<layer>` (NCHW for images). */
  outputs: readonly string[];
  /** Layers whose outputs are fed in (as `feed:<layer>`, NCHW) instead of computed from the input. */
  feeds?: readonly string[];
  /** This layer's output is multiplied by the input `mask` [N, C] (1 keeps a filter, 0 zeroes it). */
  maskLayer?: string;
  /** Convolutions whose pre-activation (before their activation function) is returned too, as `pre:<layer>`. */
  preActivations?: readonly string[];
  /**
   * Convolutions computed as act(`z:<layer>` + Conv(route(`dsrc:<layer>`), `dw:<layer>`)): z is the cached
   * pre-activation [N, M, H, W], dsrc the change of one input channel before the route's channel-agnostic
   * layers (upsampling, identities) [N, 1, h, w], dw the kernel's slice for that channel [M, 1, kh, kw].
   */
  deltaConvs?: readonly DeltaConv[];
}

export interface DeltaConv {
  layer: string;
  /** Channel-agnostic layers (UpSampling2D, identities) between the changed channel and the convolution, in order. */
  route: readonly string[];
}

export interface ForwardGraph {
  modelProto: Uint8Array;
  /** Graph inputs in feed order: `input` (NHWC) when the path reaches it, `feed:*`, `mask`. */
  inputs: string[];
  outputs: string[];
  /** The layers compiled, in forward order. */
  layers: string[];
}

interface InboundNode {
  inputTensors: tf.SymbolicTensor[];
}

function outputTensor(model: LayersModel, name: string): tf.SymbolicTensor {
  const valid = model.layers.map((l) => l.name);
  if (!valid.includes(name)) throw unknownNameError('layer', name, valid);
  const out = model.getLayer(name).output;
  if (Array.isArray(out)) throw new OnnxUnsupportedError(name, model.getLayer(name).getClassName(), 'layers with several outputs');
  return out;
}

/** Nodes needed for `targets`, stopping at the model input and at fed tensors. */
function pathTo(model: LayersModel, targets: tf.SymbolicTensor[], fed: Set<number>): PathNode[] {
  const inputId = model.inputs[0]!.id;
  const order: PathNode[] = [];
  const seen = new Set<number>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (t.id === inputId || fed.has(t.id) || seen.has(t.id)) return;
    seen.add(t.id);
    const layer = t.sourceLayer as Layer;
    const cls = layer.getClassName();
    if (!(cls in LAYER_COMPILERS)) throw new OnnxUnsupportedError(layer.name, cls);
    const node = (layer as unknown as { inboundNodes: InboundNode[] }).inboundNodes[t.nodeIndex]!;
    for (const input of node.inputTensors) visit(input);
    order.push({ key: `${layer.name}#${t.nodeIndex}`, layer, inputs: node.inputTensors, output: t });
  };
  for (const t of targets) visit(t);
  return order;
}

export function compileForwardGraph(model: LayersModel, spec: ForwardGraphSpec): ForwardGraph {
  if (model.inputs.length !== 1) throw new OnnxUnsupportedError(model.name, 'Model', 'models with several inputs');
  checkInput(model);
  const pre = new Set(spec.preActivations ?? []);
  for (const l of pre) if (model.getLayer(l).getClassName() !== 'Conv2D') throw new Error(`pre-activation of ${l}: not a Conv2D layer`);
  const targets = [...spec.outputs, ...pre].map((n) => outputTensor(model, n));
  const fedTensors = (spec.feeds ?? []).map((n) => outputTensor(model, n));
  const deltaTensors = (spec.deltaConvs ?? []).map((d) => outputTensor(model, d.layer));
  const fed = new Set([...fedTensors, ...deltaTensors].map((t) => t.id));
  const path = pathTo(model, targets, fed);
  const g = new Ops();
  const values = new Map<number, Value>();
  const inputs: ValueInfo[] = [];
  const modelInput = model.inputs[0]!;
  const needsInput = path.some((n) => n.inputs.some((t) => t.id === modelInput.id)) || targets.some((t) => t.id === modelInput.id);
  if (needsInput) {
    const X = g.reserve('input');
    const channels = modelInput.shape[3] as number;
    inputs.push({ name: X, type: 'float32', dims: ['batch', 'height', 'width', channels] });
    values.set(modelInput.id, { name: g.transpose(X, [0, 3, 1, 2]), rank: 4 });
  }
  fedTensors.forEach((t, i) => {
    const name = g.reserve(`feed:${spec.feeds![i]}`);
    const c = t.shape[t.shape.length - 1] as number;
    inputs.push({ name, type: 'float32', dims: ['batch', c, `h${i}`, `w${i}`] });
    values.set(t.id, { name, rank: 4 });
  });
  (spec.deltaConvs ?? []).forEach((d, i) => values.set(deltaTensors[i]!.id, emitDeltaConv(model, g, d, inputs)));
  const maskTensor = spec.maskLayer === undefined ? undefined : outputTensor(model, spec.maskLayer);
  let mask: string | undefined;
  if (maskTensor) {
    mask = g.reserve('mask');
    inputs.push({ name: mask, type: 'float32', dims: ['batch', maskTensor.shape[3] as number] });
    // A fed masked layer is masked as it enters.
    if (fed.has(maskTensor.id)) values.set(maskTensor.id, { name: g.op('Mul', [values.get(maskTensor.id)!.name, g.unsqueeze(mask, [2, 3])]), rank: 4 });
  }
  const preValues = new Map<string, string>();
  for (const node of path) {
    const input = layerInput(node);
    const compiler = LAYER_COMPILERS[node.layer.getClassName()]!;
    compiler.check(input);
    const nodeInputs = node.inputs.map((t) => values.get(t.id)!);
    let out: Value;
    if (pre.has(node.layer.name)) {
      // Compiled with a linear activation (its pre-activation), then the layer's own activation applied.
      const act = activationName(input.cfg, (d) => {
        throw new OnnxUnsupportedError(node.layer.name, 'Conv2D', d);
      });
      const z = compiler.emit({ ...input, cfg: { ...input.cfg, activation: 'linear' }, g, inputs: nodeInputs }).output.name;
      preValues.set(node.layer.name, z);
      out = { name: emitActivation(g, act, z, 4, `${node.layer.name}_act`).y, rank: 4 };
    } else {
      out = compiler.emit({ ...input, g, inputs: nodeInputs }).output;
    }
    if (maskTensor && node.output.id === maskTensor.id) out = { name: g.op('Mul', [out.name, g.unsqueeze(mask!, [2, 3])]), rank: 4 };
    values.set(node.output.id, out);
  }
  const outputs: ValueInfo[] = spec.outputs.map((layer, i) => {
    const name = g.reserve(`out:${layer}`);
    g.node('Identity', [values.get(targets[i]!.id)!.name], {}, [name]);
    return { name, type: 'float32' };
  });
  for (const layer of pre) {
    const name = g.reserve(`pre:${layer}`);
    g.node('Identity', [preValues.get(layer)!], {}, [name]);
    outputs.push({ name, type: 'float32' });
  }
  const modelProto = g.build(`${model.name}_forward`, inputs, outputs, `forward to ${spec.outputs.join(',')}`);
  return { modelProto, inputs: inputs.map((i) => i.name), outputs: outputs.map((o) => o.name), layers: path.map((n) => n.layer.name) };
}

/** act(z + Conv(route(dsrc), dw)): a convolution whose input changed in one channel, from its cached pre-activation. */
function emitDeltaConv(model: LayersModel, g: Ops, d: DeltaConv, inputs: ValueInfo[]): Value {
  const layer = model.getLayer(d.layer) as Layer;
  if (layer.getClassName() !== 'Conv2D') throw new Error(`delta conv ${d.layer}: not a Conv2D layer`);
  const cfg = layer.getConfig() as Record<string, unknown>;
  const input = { layer, cfg, inShapes: [layer.input as tf.SymbolicTensor].map((t) => t.shape as (number | null)[]), outShape: (layer.output as tf.SymbolicTensor).shape as (number | null)[] };
  const fail = (detail: string): never => {
    throw new OnnxUnsupportedError(d.layer, 'Conv2D', detail);
  };
  const { act, kernel, strides, dilations, pad } = convSettings(input, fail);
  const M = (layer.output as tf.SymbolicTensor).shape[3] as number;
  const z = g.reserve(`z:${d.layer}`);
  const dsrc = g.reserve(`dsrc:${d.layer}`);
  const dw = g.reserve(`dw:${d.layer}`);
  inputs.push({ name: z, type: 'float32', dims: ['batch', M, `zh_${d.layer}`, `zw_${d.layer}`] });
  inputs.push({ name: dsrc, type: 'float32', dims: ['batch', 1, `dh_${d.layer}`, `dw_${d.layer}`] });
  inputs.push({ name: dw, type: 'float32', dims: [M, 1, kernel[0], kernel[1]] });
  let v: Value = { name: dsrc, rank: 4 };
  for (const name of d.route) {
    const r = model.getLayer(name) as Layer;
    const rIn = { layer: r, cfg: r.getConfig() as Record<string, unknown>, inShapes: [(r.input as tf.SymbolicTensor).shape as (number | null)[]], outShape: (r.output as tf.SymbolicTensor).shape as (number | null)[] };
    v = LAYER_COMPILERS[r.getClassName()]!.emit({ ...rIn, g, inputs: [v] }).output;
  }
  const delta = g.op('Conv', [v.name, dw], { kernel_shape: kernel, strides, dilations, group: 1, ...forwardPadAttrs({ padding: pad, strides, kernel, dilations }) }, `${d.layer}_delta`);
  return { name: emitActivation(g, act, g.op('Add', [z, delta]), 4, `${d.layer}_act`).y, rank: 4 };
}

/** An onnxruntime session over a forward graph; tensors in and out are plain NCHW (or NHWC `input`) arrays. */
export class ForwardRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly graph: ForwardGraph,
  ) {}

  static async create(model: LayersModel, spec: ForwardGraphSpec, threads = os.availableParallelism()): Promise<ForwardRunner> {
    const graph = compileForwardGraph(model, spec);
    const session = await ort.InferenceSession.create(graph.modelProto, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new ForwardRunner(session, graph);
  }

  /** feeds: name -> [data, dims]; returns each output's data and dims. */
  async run(feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor('float32', f.data, f.dims);
    const result = await this.session.run(tensors);
    const out: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const name of this.graph.outputs) {
      const t = result[name]!;
      out[name.startsWith('out:') ? name.slice('out:'.length) : name] = { data: t.data as Float32Array, dims: t.dims.slice() };
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
