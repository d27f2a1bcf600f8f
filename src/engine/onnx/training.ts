/**
 * Compiles one training step of a tfjs-layers model into an ONNX graph: the forward pass with
 * BatchNorm in training mode (batch statistics), the loss against a target, and the gradient of the
 * loss with respect to every trainable weight, written out by hand in reverse topological order.
 * Weights are graph inputs, so one session serves the whole run while the optimizer (in JS) updates
 * them. Weightless layers reuse the inference compiler's emitters (their backward is the same);
 * Conv2D and BatchNormalization get training versions here.
 *
 * With `outputs: 'statistics'` the graph stops after the forward pass and outputs only the BatchNorm
 * statistics (no target, loss or gradients).
 *
 * Graph inputs: `input` and `target` float32 NHWC, then one input per trainable weight in Keras layout
 * (named `layer/weight`). Outputs: `loss` (scalar), `grad:layer/weight` per trainable weight in Keras
 * layout, and `mean:layer` / `variance:layer` per BatchNorm layer (the batch statistics, for the
 * moving averages).
 */
import type { LayersModel } from '../../tf.js';
import { checkInput, collectPath, layerInput, type PathNode } from './compile.js';
import { OnnxUnsupportedError } from './errors.js';
import { convSettings, emitActivation, LAYER_COMPILERS, type Emission, type LayerInput, type Value } from './layers/index.js';
import { backwardPads, forwardPadAttrs, Ops, SLICE_END } from './ops.js';
import type { ValueInfo } from './graph.js';

export type TrainingLoss = 'l1' | 'mse';

export interface TrainableParam {
  /** Graph input name, `layer/weight` (tfjs's variable name without its numeric suffix). */
  name: string;
  layer: string;
  /** Index of this weight in layer.getWeights(). */
  index: number;
  shape: number[];
  /** Graph output holding its gradient. */
  gradient: string;
}

export interface BatchStatistics {
  layer: string;
  mean: string;
  variance: string;
  momentum: number;
}

export interface TrainingGraph {
  modelProto: Uint8Array;
  params: TrainableParam[];
  batchNorms: BatchStatistics[];
  nodeCount: number;
  buildMs: number;
}

interface TrainEmission {
  output: Value;
  /** Input gradients; `needInput[i]` false skips work nobody reads (the first layer's input gradient). */
  backward: (gy: string, needInput: boolean[]) => (string | undefined)[];
}

type ParamInput = (index: number, shape: number[]) => string;

/** The trainable-weight version of a stride-1 Conv2D: kernel and bias are graph inputs. */
function trainConv2d(g: Ops, input: LayerInput, x: string, param: ParamInput, grad: (index: number, value: string) => void): TrainEmission {
  const fail = (detail: string): never => {
    throw new OnnxUnsupportedError(input.layer.name, 'Conv2D', `${detail} (in training)`);
  };
  const { act, kernel, strides, dilations, pad } = convSettings(input, fail);
  if (strides[0] !== 1 || strides[1] !== 1 || dilations[0] !== 1 || dilations[1] !== 1) fail('strides or dilation other than 1');
  const weights = input.layer.getWeights();
  const [kh, kw] = kernel;
  const cin = weights[0]!.shape[2]!;
  const cout = weights[0]!.shape[3]!;
  const K = param(0, [kh, kw, cin, cout]);
  // Keras [kh, kw, cin, cout] -> ONNX [cout, cin, kh, kw].
  const W = g.transpose(K, [3, 2, 0, 1]);
  const hasBias = weights.length > 1;
  const inputs = [x, W];
  if (hasBias) inputs.push(param(1, [cout]));
  const spec = { padding: pad, strides, kernel, dilations };
  const z = g.op('Conv', inputs, { kernel_shape: kernel, strides: [1, 1], dilations: [1, 1], group: 1, ...forwardPadAttrs(spec) }, input.layer.name);
  const a = emitActivation(g, act, z, 4, `${input.layer.name}_act`);
  return {
    output: { name: a.y, rank: 4 },
    backward: (gy, needInput) => {
      const gz = a.backward(gy);
      if (hasBias) grad(1, g.op('ReduceSum', [gz, g.ints([0, 2, 3])], { keepdims: 0 }, `${input.layer.name}_dB`));
      grad(0, weightGradientByConv(g, x, gz, spec));
      if (!needInput[0]) return [undefined];
      // dL/dx: the output gradient convolved with the kernel rotated 180 degrees, in and out swapped.
      const flipped = g.op('Slice', [g.transpose(W, [1, 0, 2, 3]), g.ints([-1, -1]), g.ints([-SLICE_END, -SLICE_END]), g.ints([2, 3]), g.ints([-1, -1])]);
      const dx = g.op('Conv', [gz, flipped], { kernel_shape: kernel, strides: [1, 1], dilations: [1, 1], group: 1, pads: backwardPads(spec, kh, kw) }, `${input.layer.name}_grad`);
      return [dx];
    },
  };
}

type ConvGeometry = { padding: 'same' | 'valid'; strides: [number, number]; kernel: [number, number]; dilations: [number, number] };

/**
 * dW[m, c, i, j] = sum over n, h, w of gz[n, m, h, w] * xpad[n, c, h + i, w + j], as a convolution of
 * the input (images as channels) with the output gradient as its kernel, giving [cin, cout, kh, kw].
 * (Tried instead: im2col by Slice + Concat, or by a one-hot Conv, then one MatMul; both were slower
 * in onnxruntime 1.x on CPU, the copies costing more than the skinny products save.)
 */
function weightGradientByConv(g: Ops, x: string, gz: string, spec: ConvGeometry): string {
  const pads = (forwardPadAttrs(spec).pads as number[] | undefined) ?? [0, 0, 0, 0];
  const dW = g.op('Conv', [g.transpose(x, [1, 0, 2, 3]), g.transpose(gz, [1, 0, 2, 3])], { pads, strides: [1, 1], dilations: [1, 1], group: 1 });
  return g.transpose(dW, [2, 3, 0, 1]);
}

/** BatchNormalization in training mode: normalise with the batch's own mean and (biased) variance. */
function trainBatchNorm(
  g: Ops,
  input: LayerInput,
  x: string,
  param: ParamInput,
  grad: (index: number, value: string) => void,
  stats: (mean: string, variance: string, momentum: number) => void,
): TrainEmission {
  const { cfg, layer } = input;
  const fail = (detail: string): never => {
    throw new OnnxUnsupportedError(layer.name, 'BatchNormalization', `${detail} (in training)`);
  };
  const rank = input.inShapes[0]!.length;
  const axis = cfg.axis ?? -1;
  if (rank !== 4 || (axis !== -1 && axis !== 3)) fail('only images normalised over the channel axis');
  if (cfg.scale === false || cfg.center === false) fail('scale and center both off or one off');
  const channels = layer.getWeights()[0]!.shape[0]!;
  const eps = typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3;
  const momentum = typeof cfg.momentum === 'number' ? cfg.momentum : 0.99;
  const perChannel = g.ints([channels, 1, 1]);
  const gamma = g.op('Reshape', [param(0, [channels]), perChannel]);
  const beta = g.op('Reshape', [param(1, [channels]), perChannel]);
  const axes = [0, 2, 3];
  const mean = g.op('ReduceMean', [x], { axes, keepdims: 1 }, `${layer.name}_mean`);
  const centred = g.op('Sub', [x, mean]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes, keepdims: 1 }, `${layer.name}_var`);
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])]);
  const xhat = g.op('Mul', [centred, inv]);
  const y = g.op('Add', [g.op('Mul', [xhat, gamma]), beta], {}, layer.name);
  const flat = g.ints([channels]);
  stats(g.op('Reshape', [mean, flat]), g.op('Reshape', [variance, flat]), momentum);
  return {
    output: { name: y, rank: 4 },
    backward: (gy, needInput) => {
      const sum = (v: string) => g.op('ReduceSum', [v, g.ints(axes)], { keepdims: 0 });
      const gyXhat = g.op('Mul', [gy, xhat]);
      grad(0, sum(gyXhat));
      grad(1, sum(gy));
      if (!needInput[0]) return [undefined];
      // dx = gamma / sigma * (gy - mean(gy) - xhat * mean(gy * xhat)), means over the batch statistics' axes.
      const m = (v: string) => g.op('ReduceMean', [v], { axes, keepdims: 1 });
      const inner = g.op('Sub', [g.op('Sub', [gy, m(gy)]), g.op('Mul', [xhat, m(gyXhat)])]);
      return [g.op('Mul', [inner, g.op('Mul', [gamma, inv])], {}, `${layer.name}_grad`)];
    },
  };
}

function weightlessEmission(emission: Emission): TrainEmission {
  return { output: emission.output, backward: (gy) => emission.backward(gy) };
}

/**
 * The training graph for `model` (single input, single output). Throws OnnxUnsupportedError naming the
 * first layer it cannot train; callers fall back to tfjs.
 */
export function compileTrainingGraph(model: LayersModel, options: { loss: TrainingLoss; outputs?: 'step' | 'statistics' }): TrainingGraph {
  const start = performance.now();
  if (model.outputs.length !== 1) {
    const last = model.outputs[1]!.sourceLayer;
    throw new OnnxUnsupportedError(last.name, last.getClassName(), 'models with several outputs (in training)');
  }
  checkInput(model);
  const output = model.outputs[0]!;
  const path: PathNode[] = collectPath(model, [output]);
  const inputs = path.map(layerInput);
  const outShape = output.shape;
  if (outShape.length !== 4) throw new OnnxUnsupportedError(output.sourceLayer.name, output.sourceLayer.getClassName(), 'outputs that are not images (in training)');

  const g = new Ops();
  // 'statistics': the forward pass only, giving every BatchNorm layer's batch mean and variance, which
  // over one batch are exactly what recalibrating on that batch layer by layer gives.
  const statisticsOnly = options.outputs === 'statistics';
  const X = g.reserve('input');
  const T = statisticsOnly ? '' : g.reserve('target');
  const LOSS = statisticsOnly ? '' : g.reserve('loss');
  const modelInput = model.inputs[0]!;
  const values = new Map<number, Value>([[modelInput.id, { name: g.transpose(X, [0, 3, 1, 2]), rank: 4 }]]);
  const params: TrainableParam[] = [];
  const paramInputs: ValueInfo[] = [];
  const gradientOutputs: ValueInfo[] = [];
  const batchNorms: BatchStatistics[] = [];
  const statOutputs: ValueInfo[] = [];
  const emissions: { node: PathNode; emission: TrainEmission }[] = [];

  path.forEach((node, i) => {
    const input = inputs[i]!;
    const layer = node.layer;
    const cls = layer.getClassName();
    const ins = node.inputs.map((t) => values.get(t.id)!);
    const trainable = new Set(layer.trainableWeights.map((w) => w.originalName));
    const param: ParamInput = (index, shape) => {
      const weight = layer.weights[index]!;
      if (!trainable.has(weight.originalName)) throw new OnnxUnsupportedError(layer.name, cls, `frozen weight ${weight.originalName} (in training)`);
      const name = g.reserve(weight.originalName);
      params.push({ name, layer: layer.name, index, shape, gradient: `grad:${name}` });
      paramInputs.push({ name, type: 'float32', dims: shape });
      return name;
    };
    const grad = (index: number, value: string) => {
      const p = params.find((q) => q.layer === layer.name && q.index === index)!;
      g.node('Identity', [value], {}, [g.reserve(p.gradient)]);
      gradientOutputs.push({ name: p.gradient, type: 'float32', dims: p.shape });
    };
    let emission: TrainEmission;
    if (cls === 'Conv2D') {
      emission = trainConv2d(g, input, ins[0]!.name, param, grad);
    } else if (cls === 'BatchNormalization') {
      emission = trainBatchNorm(g, input, ins[0]!.name, param, grad, (mean, variance, momentum) => {
        const entry = { layer: layer.name, mean: g.reserve(`mean:${layer.name}`), variance: g.reserve(`variance:${layer.name}`), momentum };
        g.node('Identity', [mean], {}, [entry.mean]);
        g.node('Identity', [variance], {}, [entry.variance]);
        const channels = [layer.weights[0]!.shape[0]!];
        statOutputs.push({ name: entry.mean, type: 'float32', dims: channels }, { name: entry.variance, type: 'float32', dims: channels });
        batchNorms.push(entry);
      });
    } else if (layer.weights.length === 0 && cls in LAYER_COMPILERS) {
      const compiler = LAYER_COMPILERS[cls]!;
      compiler.check(input);
      emission = weightlessEmission(compiler.emit({ ...input, g, inputs: ins }));
    } else {
      throw new OnnxUnsupportedError(layer.name, cls, 'layers with weights other than Conv2D and BatchNormalization (in training)');
    }
    values.set(node.output.id, emission.output);
    emissions.push({ node, emission });
  });

  if (statisticsOnly) {
    const modelProto = g.build(`${model.name}_statistics`, [{ name: X, type: 'float32', dims: ['batch', 'height', 'width', modelInput.shape[3] as number] }, ...paramInputs], statOutputs, 'BatchNorm batch statistics');
    return { modelProto, params, batchNorms, nodeCount: g.nodeCount, buildMs: performance.now() - start };
  }

  // The loss over every element, like tfjs's meanAbsoluteError / meanSquaredError for one output.
  const prediction = values.get(output.id)!.name;
  const diff = g.op('Sub', [prediction, g.transpose(T, [0, 3, 1, 2])]);
  const inv = g.inverseCount(diff, 0);
  let seed: string;
  if (options.loss === 'l1') {
    g.node('ReduceMean', [g.op('Abs', [diff])], { keepdims: 0 }, [LOSS]);
    seed = g.op('Mul', [g.op('Sign', [diff]), inv]);
  } else {
    g.node('ReduceMean', [g.op('Mul', [diff, diff])], { keepdims: 0 }, [LOSS]);
    seed = g.op('Mul', [diff, g.op('Mul', [inv, g.scalar(2)])]);
  }

  const grads = new Map<number, string[]>([[output.id, [seed]]]);
  // A tensor needs a gradient when some layer on the path reads it (the model's input does not).
  const needs = (id: number) => id !== modelInput.id;
  for (let i = emissions.length - 1; i >= 0; i--) {
    const { node, emission } = emissions[i]!;
    const gy = grads.get(node.output.id);
    if (!gy) continue;
    const inGrads = emission.backward(g.sum(gy), node.inputs.map((t) => needs(t.id)));
    node.inputs.forEach((t, j) => {
      const gi = inGrads[j];
      if (gi === undefined || !needs(t.id)) return;
      const list = grads.get(t.id);
      if (list) list.push(gi);
      else grads.set(t.id, [gi]);
    });
  }

  const channels = modelInput.shape[3] as number;
  const outChannels = outShape[3] as number;
  const graphInputs: ValueInfo[] = [
    { name: X, type: 'float32', dims: ['batch', 'height', 'width', channels] },
    { name: T, type: 'float32', dims: ['batch', 'height', 'width', outChannels] },
    ...paramInputs,
  ];
  const graphOutputs: ValueInfo[] = [{ name: LOSS, type: 'float32', dims: [] }, ...gradientOutputs, ...statOutputs];
  const missing = params.find((p) => !gradientOutputs.some((o) => o.name === p.gradient));
  if (missing) throw new Error(`training graph: no gradient reaches ${missing.name}`);
  const modelProto = g.build(`${model.name}_train`, graphInputs, graphOutputs, `training step, loss ${options.loss}`);
  return { modelProto, params, batchNorms, nodeCount: g.nodeCount, buildMs: performance.now() - start };
}
