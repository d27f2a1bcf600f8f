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
 * also returns the skip connections the downstream part needs and the intact output); per filter,
 * stage 2 runs only what plan.ts says: from the next convolutions' cached pre-activations plus a
 * one-channel delta convolution (decoder layers), or the whole downstream part with the layer's
 * output multiplied by a channel mask (encoder layers).
 */
import type { LayersModel } from '../tf.js';
import type { EventSink } from '../events.js';
import { invalidParameterError, unknownNameError } from '../errors.js';
import { ForwardRunner } from '../dissect/forward-graph.js';
import { frontierOf, planAblation, type AblationPlan } from './plan.js';

export { frontierOf } from './plan.js';
import { convLayers } from '../dissect/dissect.js';
import { reconstructionQuality, type PairSet } from '../dissect/data.js';

export interface AblateConfig {
  layers: readonly string[];
  /** Images per onnxruntime run (default 1: on 2 cores a batch of 8 costs about twice the CPU time per image, BENCHMARKS.md). */
  batch?: number;
  /** 'masked' forces the whole downstream part per filter (the reference the delta plan is tested against). */
  method?: 'auto' | 'masked';
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
  /** How the downstream part ran per filter (plan.ts). */
  method: 'delta' | 'masked';
  baseline: { psnr: number; ssim: number };
  /** Per filter, in filter order. */
  importance: FilterImportance[];
  /** Filter indices, most important (largest PSNR loss) first. */
  order: number[];
  wallTimeMs: number;
}

export function validateAblateConfig(model: LayersModel, config: AblateConfig): void {
  const all = convLayers(model);
  if (!config.layers.length) throw invalidParameterError('--layers', `one or more of ${all.join(', ')}`, config.layers);
  for (const l of config.layers) if (!all.includes(l)) throw unknownNameError('layer', l, all);
  const batch = config.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw invalidParameterError('--batch', 'an integer >= 1', batch);
}

type Tensor = { data: Float32Array; dims: number[] };

/** Images [first, first + m) of a tensor cached for all n images. */
function rows(t: Tensor, n: number, first: number, m: number): Tensor {
  const per = t.data.length / n;
  return { data: t.data.subarray(first * per, (first + m) * per), dims: [m, ...t.dims.slice(1)] };
}

/**
 * The reconstructions of the model with one filter of `layer` zeroed, batch by batch. The part of the
 * network upstream of the layer runs once for all images (`create`); `outputs` runs only what the
 * plan needs per filter (see plan.ts).
 */
export class LayerAblator {
  private constructor(
    readonly plan: AblationPlan,
    readonly channels: number,
    private readonly n: number,
    private readonly cached: Map<string, Tensor>,
    private readonly downstream: ForwardRunner,
    private readonly inputs: PairSet,
    private readonly kernels: Map<string, { data: Float32Array; shape: number[] }>,
    readonly outputLayer: string,
  ) {}

  static async create(model: LayersModel, pairs: PairSet, layer: string, options: { batch?: number; threads?: number; method?: 'auto' | 'masked' } = {}): Promise<LayerAblator> {
    const batch = options.batch ?? 1;
    const { n, size } = pairs;
    const pixels = size * size;
    const outputLayer = model.outputs[0]!.sourceLayer.name;
    let plan = planAblation(model, layer);
    if (options.method === 'masked' && plan.kind === 'delta') plan = { kind: 'masked', layer, frontier: frontierOf(model, layer), reason: 'asked for' };
    const convs = plan.kind === 'delta' ? plan.routes.map((r) => r.conv) : [];
    // Stage 1, once per image: the layer's output, what the downstream part reads, the intact output.
    const stage1 = [...new Set([layer, ...plan.frontier, outputLayer])];
    const upstream = await ForwardRunner.create(model, { outputs: stage1, preActivations: convs }, options.threads);
    const cached = new Map<string, Tensor>();
    try {
      const parts = new Map<string, Float32Array[]>();
      const dims = new Map<string, number[]>();
      for (let first = 0; first < n; first += batch) {
        const m = Math.min(batch, n - first);
        const out = await upstream.run({ input: { data: pairs.inputs.subarray(first * pixels, (first + m) * pixels), dims: [m, size, size, 1] } });
        for (const [name, t] of Object.entries(out)) {
          if (!parts.has(name)) parts.set(name, []);
          parts.get(name)!.push(t.data);
          dims.set(name, t.dims);
        }
      }
      for (const [name, chunks] of parts) {
        const all = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
        let o = 0;
        for (const c of chunks) {
          all.set(c, o);
          o += c.length;
        }
        cached.set(name, { data: all, dims: [n, ...dims.get(name)!.slice(1)] });
      }
    } finally {
      await upstream.dispose();
    }
    const channels = cached.get(layer)!.dims[1]!;
    const spec =
      plan.kind === 'delta'
        ? { outputs: [outputLayer], feeds: plan.frontier, deltaConvs: plan.routes.map((r) => ({ layer: r.conv, route: r.route })) }
        : { outputs: [outputLayer], feeds: [layer, ...plan.frontier], maskLayer: layer };
    const downstream = await ForwardRunner.create(model, spec, options.threads);
    const kernels = new Map(convs.map((c) => {
      const k = model.getLayer(c).getWeights()[0]!;
      return [c, { data: k.dataSync() as Float32Array, shape: k.shape }];
    }));
    return new LayerAblator(plan, channels, n, cached, downstream, pairs, kernels, outputLayer);
  }

  /** Model outputs for images [first, first + m) with `filter` zeroed (undefined: the intact network). */
  async outputs(filter: number | undefined, first: number, m: number): Promise<Float32Array> {
    if (filter === undefined) return rows(this.cached.get(this.outputLayer)!, this.n, first, m).data;
    const feeds: Record<string, Tensor> = {};
    const { size } = this.inputs;
    if (this.downstream.graph.inputs.includes('input')) feeds.input = { data: this.inputs.inputs.subarray(first * size * size, (first + m) * size * size), dims: [m, size, size, 1] };
    for (const f of this.plan.frontier) feeds[`feed:${f}`] = rows(this.cached.get(f)!, this.n, first, m);
    if (this.plan.kind === 'masked') {
      feeds[`feed:${this.plan.layer}`] = rows(this.cached.get(this.plan.layer)!, this.n, first, m);
      const mask = new Float32Array(m * this.channels).fill(1);
      for (let b = 0; b < m; b++) mask[b * this.channels + filter] = 0;
      feeds.mask = { data: mask, dims: [m, this.channels] };
    } else {
      const a = rows(this.cached.get(this.plan.layer)!, this.n, first, m);
      const [, C, h, w] = a.dims as [number, number, number, number];
      const plane = h * w;
      for (const r of this.plan.routes) {
        const s = r.scale[filter]!;
        const dsrc = new Float32Array(m * plane);
        for (let b = 0; b < m; b++) {
          const src = a.data.subarray((b * C + filter) * plane, (b * C + filter + 1) * plane);
          for (let p = 0; p < plane; p++) dsrc[b * plane + p] = -s * src[p]!;
        }
        // The kernel's slice for the changed input channel, tfjs [kh, kw, cin, M] to ONNX [M, 1, kh, kw].
        const k = this.kernels.get(r.conv)!;
        const [kh, kw, cin, M] = k.shape as [number, number, number, number];
        const j = r.offset + filter;
        const dw = new Float32Array(M * kh * kw);
        for (let o = 0; o < M; o++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) dw[(o * kh + y) * kw + x] = k.data[((y * kw + x) * cin + j) * M + o]!;
        feeds[`z:${r.conv}`] = rows(this.cached.get(`pre:${r.conv}`)!, this.n, first, m);
        feeds[`dsrc:${r.conv}`] = { data: dsrc, dims: [m, 1, h, w] };
        feeds[`dw:${r.conv}`] = { data: dw, dims: [M, 1, kh, kw] };
      }
    }
    return (await this.downstream.run(feeds))[this.outputLayer]!.data;
  }

  async dispose(): Promise<void> {
    await this.downstream.dispose();
  }
}

export async function ablateLayer(model: LayersModel, pairs: PairSet, layer: string, config: AblateConfig, onEvent: EventSink = () => undefined): Promise<LayerAblation> {
  const started = performance.now();
  const batch = config.batch ?? 1;
  const { n } = pairs;
  const ablator = await LayerAblator.create(model, pairs, layer, { batch, threads: config.threads, method: config.method });
  if (ablator.plan.kind === 'masked') onEvent({ type: 'info', message: `ablate ${layer}: whole downstream part per filter (${ablator.plan.reason})` });
  try {
    const mean = async (zeroed: number | undefined) => {
      let p = 0;
      let s = 0;
      for (let first = 0; first < n; first += batch) {
        const m = Math.min(batch, n - first);
        for (const q of reconstructionQuality(pairs, first, await ablator.outputs(zeroed, first, m), config.residual)) {
          p += q.psnr;
          s += q.ssim;
        }
      }
      return { psnr: p / n, ssim: s / n };
    };
    const baseline = await mean(undefined);
    const channels = ablator.channels;
    const importance: FilterImportance[] = [];
    for (let filter = 0; filter < channels; filter++) {
      const q = await mean(filter);
      importance.push({ filter, dPsnr: q.psnr - baseline.psnr, dSsim: q.ssim - baseline.ssim });
      onEvent({ type: 'progress', done: filter + 1, total: channels, label: `ablate ${layer} filter ${filter}: ${q.psnr - baseline.psnr >= 0 ? '+' : ''}${(q.psnr - baseline.psnr).toFixed(3)} dB` });
    }
    const order = [...importance].sort((a, b) => a.dPsnr - b.dPsnr || a.dSsim - b.dSsim).map((f) => f.filter);
    return { layer, filters: channels, images: n, method: ablator.plan.kind, baseline, importance, order, wallTimeMs: Math.round(performance.now() - started) };
  } finally {
    await ablator.dispose();
  }
}

export async function ablate(model: LayersModel, pairs: PairSet, config: AblateConfig, onEvent: EventSink = () => undefined): Promise<LayerAblation[]> {
  validateAblateConfig(model, config);
  const out: LayerAblation[] = [];
  for (const layer of config.layers) out.push(await ablateLayer(model, pairs, layer, config, onEvent));
  return out;
}
