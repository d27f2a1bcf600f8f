/**
 * Ablation importance: zero one filter at a time and measure what the reconstruction loses (PSNR and
 * SSIM against the fully sampled target) on held-out images.
 *
 * "Zero" means the convolution's output channel (after its activation) is set to 0 for every position,
 * as if its kernel and bias were zero; a BatchNorm after it still adds its shift, so the next layers see
 * the constant BN(0). That is exactly what `prune` leaves behind when it removes the filter and folds
 * that constant into the next convolution's bias, so an ablation score predicts the cost of pruning.
 *
 * Speed: the part of the network upstream of the ablated layer runs once per image (stage 1, which
 * also returns the skip connections the downstream part needs); stage 2 runs only the downstream
 * part, on a batch of images whose layer output is multiplied by a channel mask.
 */
import type { LayersModel, tf } from '../tf.js';
import type { EventSink } from '../events.js';
import { invalidParameterError, unknownNameError } from '../errors.js';
import { psnr, ssim } from '../mri/index.js';
import { ForwardRunner } from '../dissect/forward-graph.js';
import { convLayers } from '../dissect/dissect.js';
import type { PairSet } from '../dissect/data.js';

export interface AblateConfig {
  layers: readonly string[];
  /** Images per downstream run (default 10). */
  batch?: number;
  /** The model outputs the aliasing to remove: reconstruction = input + output. */
  residual: boolean;
  threads?: number;
}

export interface FilterImportance {
  filter: number;
  /** Mean PSNR (dB) and SSIM with this filter zeroed, minus the intact network's (negative: it helped). */
  dPsnr: number;
  dSsim: number;
}

export interface LayerAblation {
  layer: string;
  filters: number;
  images: number;
  baseline: { psnr: number; ssim: number };
  /** Per filter, in filter order. */
  importance: FilterImportance[];
  /** Filter indices, most important (largest PSNR loss) first. */
  order: number[];
  wallTimeMs: number;
}

interface InboundNode {
  inputTensors: tf.SymbolicTensor[];
}

/**
 * The layers whose outputs the downstream part needs besides `layer` itself: inputs of layers that
 * depend on `layer` but do not depend on it themselves (U-Net skip connections).
 */
export function frontierOf(model: LayersModel, layer: string): string[] {
  const target = model.getLayer(layer).output as tf.SymbolicTensor;
  const inputId = model.inputs[0]!.id;
  const depends = new Map<number, boolean>();
  const nodes: { inputs: tf.SymbolicTensor[]; output: tf.SymbolicTensor }[] = [];
  const visit = (t: tf.SymbolicTensor): boolean => {
    if (t.id === target.id) return true;
    if (t.id === inputId) return false;
    const known = depends.get(t.id);
    if (known !== undefined) return known;
    const node = (t.sourceLayer as unknown as { inboundNodes: InboundNode[] }).inboundNodes[t.nodeIndex]!;
    const d = node.inputTensors.map(visit).some(Boolean);
    depends.set(t.id, d);
    if (d) nodes.push({ inputs: node.inputTensors, output: t });
    return d;
  };
  for (const out of model.outputs) visit(out);
  const frontier = new Set<string>();
  for (const n of nodes) {
    for (const t of n.inputs) {
      if (t.id !== target.id && t.id !== inputId && !depends.get(t.id)) frontier.add(t.sourceLayer.name);
    }
  }
  return [...frontier];
}

export function validateAblateConfig(model: LayersModel, config: AblateConfig): void {
  const all = convLayers(model);
  if (!config.layers.length) throw invalidParameterError('--layers', `one or more of ${all.join(', ')}`, config.layers);
  for (const l of config.layers) if (!all.includes(l)) throw unknownNameError('layer', l, all);
  const batch = config.batch ?? 10;
  if (!Number.isInteger(batch) || batch < 1) throw invalidParameterError('--batch', 'an integer >= 1', batch);
}

function quality(pairs: PairSet, first: number, output: Float32Array, residual: boolean): { psnr: number; ssim: number }[] {
  const pixels = pairs.size * pairs.size;
  const m = output.length / pixels;
  const out: { psnr: number; ssim: number }[] = [];
  for (let b = 0; b < m; b++) {
    const i = first + b;
    const t = pairs.targets.subarray(i * pixels, (i + 1) * pixels);
    const recon = output.slice(b * pixels, (b + 1) * pixels);
    if (residual) {
      const x = pairs.inputs.subarray(i * pixels, (i + 1) * pixels);
      for (let p = 0; p < pixels; p++) recon[p]! += x[p]!;
    }
    out.push({ psnr: psnr(t, recon, 1), ssim: ssim(t, recon, pairs.size, pairs.size, { dataRange: 1 }) });
  }
  return out;
}

export async function ablateLayer(model: LayersModel, pairs: PairSet, layer: string, config: AblateConfig, onEvent: EventSink = () => undefined): Promise<LayerAblation> {
  const started = performance.now();
  const batch = config.batch ?? 10;
  const { n, size } = pairs;
  const pixels = size * size;
  const outputLayer = model.outputs[0]!.sourceLayer.name;
  const frontier = frontierOf(model, layer);
  const feeds = [layer, ...frontier];
  // Stage 1: the ablated layer's output and the skip connections, once per image.
  const upstream = await ForwardRunner.create(model, { outputs: feeds }, config.threads);
  const cached = new Map<string, { data: Float32Array; dims: number[] }>();
  try {
    const parts = new Map<string, Float32Array[]>(feeds.map((f) => [f, []]));
    const dims = new Map<string, number[]>();
    for (let first = 0; first < n; first += batch) {
      const m = Math.min(batch, n - first);
      const out = await upstream.run({ input: { data: pairs.inputs.subarray(first * pixels, (first + m) * pixels), dims: [m, size, size, 1] } });
      for (const f of feeds) {
        parts.get(f)!.push(out[f]!.data);
        dims.set(f, out[f]!.dims);
      }
    }
    for (const f of feeds) {
      const chunks = parts.get(f)!;
      const all = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      cached.set(f, { data: all, dims: [n, ...dims.get(f)!.slice(1)] });
    }
  } finally {
    await upstream.dispose();
  }
  const channels = cached.get(layer)!.dims[1]!;
  const downstream = await ForwardRunner.create(model, { outputs: [outputLayer], feeds, maskLayer: layer }, config.threads);
  try {
    const needsInput = downstream.graph.inputs.includes('input');
    const run = async (first: number, m: number, zeroed: number | undefined) => {
      const mask = new Float32Array(m * channels).fill(1);
      if (zeroed !== undefined) for (let b = 0; b < m; b++) mask[b * channels + zeroed] = 0;
      const inputs: Record<string, { data: Float32Array; dims: number[] }> = { mask: { data: mask, dims: [m, channels] } };
      for (const f of feeds) {
        const { data, dims } = cached.get(f)!;
        const per = data.length / n;
        inputs[`feed:${f}`] = { data: data.subarray(first * per, (first + m) * per), dims: [m, ...dims.slice(1)] };
      }
      if (needsInput) inputs.input = { data: pairs.inputs.subarray(first * pixels, (first + m) * pixels), dims: [m, size, size, 1] };
      const out = await downstream.run(inputs);
      return quality(pairs, first, out[outputLayer]!.data, config.residual);
    };
    const mean = async (zeroed: number | undefined) => {
      let p = 0;
      let s = 0;
      for (let first = 0; first < n; first += batch) {
        for (const q of await run(first, Math.min(batch, n - first), zeroed)) {
          p += q.psnr;
          s += q.ssim;
        }
      }
      return { psnr: p / n, ssim: s / n };
    };
    const baseline = await mean(undefined);
    const importance: FilterImportance[] = [];
    for (let filter = 0; filter < channels; filter++) {
      const q = await mean(filter);
      importance.push({ filter, dPsnr: q.psnr - baseline.psnr, dSsim: q.ssim - baseline.ssim });
      onEvent({ type: 'progress', done: filter + 1, total: channels, label: `ablate ${layer} filter ${filter}: ${q.psnr - baseline.psnr >= 0 ? '+' : ''}${(q.psnr - baseline.psnr).toFixed(3)} dB` });
    }
    const order = [...importance].sort((a, b) => a.dPsnr - b.dPsnr || a.dSsim - b.dSsim).map((f) => f.filter);
    return { layer, filters: channels, images: n, baseline, importance, order, wallTimeMs: Math.round(performance.now() - started) };
  } finally {
    await downstream.dispose();
  }
}

export async function ablate(model: LayersModel, pairs: PairSet, config: AblateConfig, onEvent: EventSink = () => undefined): Promise<LayerAblation[]> {
  validateAblateConfig(model, config);
  const out: LayerAblation[] = [];
  for (const layer of config.layers) out.push(await ablateLayer(model, pairs, layer, config, onEvent));
  return out;
}
