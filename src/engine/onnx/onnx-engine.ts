/**
 * The ONNX Runtime engine: the model's forward pass and hand-written input gradient compiled into one
 * ONNX graph per (objective layers and kind, normalisation, values-or-gradient), run by
 * onnxruntime-node on its CPU provider (or CUDA where its binaries are installed). Filter indices are
 * a graph input, so one session serves every filter; image height and width are symbolic, so it
 * serves every size too. Filter objectives compile once per batch size (see specializeBatch), layer
 * objectives once for all.
 *
 * Weights are copied into the graph when it is compiled: after changing the model's weights, make a
 * new engine.
 */
import './telemetry-off.js';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ort, resolveOnnxRuntime } from './runtime.js';
import type { LayersModel } from '../../tf.js';
import type { Batch, Engine, EngineInfo, GradientNormalization, GradientResult, LayerGradientResult, LayerMaps, Objective } from '../engine.js';
import { UsageError } from '../../errors.js';
import { compileActivationsGraph, compileGradientGraph, findUnsupportedLayer, type ActivationsGraph, type CompiledGraph } from './compile.js';
import { OnnxUnavailableError } from './errors.js';

export type OnnxDevice = 'cpu' | 'cuda';

export interface OnnxEngineOptions {
  /** Threads for onnxruntime's intra-op pool (default: os.availableParallelism()). */
  threads?: number;
  /** Execution provider (default cpu). */
  device?: OnnxDevice;
  /** onnxruntime graph optimisation level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /**
   * Compile filter objectives per batch size so a convolution target computes only each image's own
   * channel (default true; about a quarter faster for the U-Net's uconv64, one compile per batch size).
   * False: one graph for every batch size.
   */
  specializeBatch?: boolean;
  /**
   * Let onnxruntime's idle intra-op threads spin while waiting for work (its own default). Off by default:
   * on a busy machine (other workers, other jobs) spinning threads steal the cores the work needs;
   * measured on 2 shared cores, 2 threads took ~140 ms per uconv64 step spinning vs ~108 ms not.
   */
  spinning?: boolean;
}

/** One compiled graph and its onnxruntime session load. */
export interface OnnxCompileRecord {
  key: string;
  outputs: 'values' | 'gradient';
  layers: number;
  nodes: number;
  /** Building and serialising the ONNX graph. */
  buildMs: number;
  /** onnxruntime loading and optimising it. */
  sessionMs: number;
  compileMs: number;
  bytes: number;
}

export interface OnnxEngineStats {
  compiles: number;
  /** Total compile time (graph build + session creation), for the manifest. */
  compileMs: number;
  sessions: OnnxCompileRecord[];
}

interface CompiledSession {
  session: ort.InferenceSession;
  graph: CompiledGraph;
  record: OnnxCompileRecord;
}

export const ONNXRUNTIME_CUDA_INSTALL =
  '`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (in a checkout; for an installed unet-dream, in its runtime/ folder: `cd "$(npm root -g)/unet-dream/runtime"` first), on a machine that can reach nuget.org, with CUDA 12 and cuDNN 9';

const ORT_VERSION = ort.env.versions?.node ?? 'unknown';

/** Whether onnxruntime-node's CUDA provider library is installed next to its binding. */
/** Throws OnnxUnavailableError, with the install command, when `device` cannot run here. */
export function assertDeviceAvailable(device: OnnxDevice): void {
  if (device === 'cuda' && !cudaProviderInstalled()) {
    throw new OnnxUnavailableError(
      `the onnxruntime CUDA provider is not installed (onnxruntime-node ${ORT_VERSION} ships CPU binaries only); install it with ${ONNXRUNTIME_CUDA_INSTALL}`,
    );
  }
}

export function cudaProviderInstalled(): boolean {
  try {
    const entry = resolveOnnxRuntime();
    if (entry === undefined) return false;
    const root = path.dirname(path.dirname(entry));
    const dir = path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

export class OnnxEngine implements Engine {
  readonly info: EngineInfo;
  private readonly threads: number;
  private readonly device: OnnxDevice;
  private readonly optimization: NonNullable<OnnxEngineOptions['graphOptimizationLevel']>;
  private readonly specializeBatch: boolean;
  private readonly spinning: boolean;
  private readonly sessions = new Map<string, Promise<CompiledSession>>();
  private readonly records: OnnxCompileRecord[] = [];
  private readonly activationSessions = new Map<string, Promise<{ session: ort.InferenceSession; graph: ActivationsGraph }>>();
  private disposed = false;

  constructor(
    private readonly model: LayersModel,
    options: OnnxEngineOptions = {},
  ) {
    const threads = options.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`Expected a positive integer for threads but received ${threads}`);
    this.threads = threads;
    this.device = options.device ?? 'cpu';
    this.optimization = options.graphOptimizationLevel ?? 'all';
    this.specializeBatch = options.specializeBatch ?? true;
    this.spinning = options.spinning ?? false;
    assertDeviceAvailable(this.device);
    this.info = {
      engine: 'onnx',
      backend: `onnxruntime-${this.device}`,
      provider: `onnxruntime-node@${ORT_VERSION}`,
    };
  }

  /** Compile counts and times, for the manifest. */
  stats(): OnnxEngineStats {
    return {
      compiles: this.records.length,
      compileMs: this.records.reduce((a, r) => a + r.compileMs, 0),
      sessions: this.records.map((r) => ({ ...r })),
    };
  }

  /**
   * Compiles (or fetches) the session for an objective ahead of the first step, e.g. to time it or to
   * fail before any work; throws OnnxUnsupportedError when a layer on the path cannot be compiled.
   */
  async prepare(
    objective: Objective,
    normalize: GradientNormalization = 'rms',
    outputs: 'values' | 'gradient' = 'gradient',
    batch = objective.kind === 'filter' ? objective.filters.length : 1,
  ): Promise<OnnxCompileRecord> {
    return { ...(await this.session(objective, normalize, outputs, batch)).record };
  }

  async evaluate(x: Batch, objective: Objective): Promise<Float32Array> {
    const out = await this.run(x, objective, 'rms', 'values');
    return out.values;
  }

  async gradient(x: Batch, objective: Objective, normalize: GradientNormalization): Promise<GradientResult> {
    const out = await this.run(x, objective, normalize, 'gradient');
    return { values: out.values, gradient: out.gradient! };
  }

  async activations(x: Batch, layers: readonly string[]): Promise<LayerMaps[]> {
    if (this.disposed) throw new Error('OnnxEngine used after dispose()');
    const key = `activations:${layers.join(',')}`;
    let pending = this.activationSessions.get(key);
    if (!pending) {
      pending = (async () => {
        const graph = compileActivationsGraph(this.model, layers);
        const start = performance.now();
        const session = await ort.InferenceSession.create(graph.modelProto, this.sessionOptions());
        const sessionMs = performance.now() - start;
        this.records.push({ key, outputs: 'values', layers: layers.length, nodes: 0, buildMs: graph.buildMs, sessionMs, compileMs: graph.buildMs + sessionMs, bytes: graph.modelProto.byteLength });
        return { session, graph };
      })();
      this.activationSessions.set(key, pending);
      pending.catch(() => this.activationSessions.delete(key));
      while (this.activationSessions.size > MAX_LIVE_SESSIONS) {
        const [oldest, old] = this.activationSessions.entries().next().value as [string, Promise<{ session: ort.InferenceSession }>];
        this.activationSessions.delete(oldest);
        old.then((c) => c.session.release()).catch(() => undefined);
      }
    }
    const { session, graph } = await pending;
    this.checkBatch(x, graph.inputShape);
    const result = await session.run({ input: new ort.Tensor('float32', x.data, [x.n, x.height, x.width, x.channels]) });
    return graph.outputNames.map((name) => tensorMaps(result[name]!));
  }

  async layerGradient(x: Batch, objective: Objective, layer: string): Promise<LayerGradientResult> {
    const out = await this.run(x, objective, 'none', 'gradient', layer);
    return { values: out.values, activations: tensorMaps(out.layerActivation!), gradient: tensorMaps(out.layerGradient!) };
  }

  private checkBatch(x: Batch, [h, w, c]: [number | null, number | null, number]): void {
    if (x.channels !== c) throw new UsageError(`the model takes ${c}-channel images; got ${x.channels} channels`);
    if ((h !== null && x.height !== h) || (w !== null && x.width !== w)) {
      throw new UsageError(`the model takes ${h}x${w} inputs only (a layer on the path ties it to that size); cannot use ${x.height}x${x.width}`);
    }
  }

  private sessionOptions(): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: [this.device],
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: this.optimization,
      // Warnings go to stderr from native code; library code stays quiet.
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: this.spinning ? '1' : '0' } } },
    };
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.activationSessions.values()) p.then((s) => s.session.release()).catch(() => undefined);
    this.activationSessions.clear();
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const p of pending) {
      p.then((s) => s.session.release()).catch(() => undefined);
    }
  }

  private async run(
    x: Batch,
    objective: Objective,
    normalize: GradientNormalization,
    outputs: 'values' | 'gradient',
    wrt?: string,
  ): Promise<{ values: Float32Array; gradient?: Float32Array; layerActivation?: ort.Tensor; layerGradient?: ort.Tensor }> {
    if (this.disposed) throw new Error('OnnxEngine used after dispose()');
    const { session, graph } = await this.session(objective, normalize, outputs, x.n, wrt);
    const [h, w, c] = graph.inputShape;
    if (x.channels !== c) throw new UsageError(`the model takes ${c}-channel images; got ${x.channels} channels`);
    if ((h !== null && x.height !== h) || (w !== null && x.width !== w)) {
      throw new UsageError(`the model takes ${h}x${w} inputs only (a layer on the path ties it to that size); cannot use ${x.height}x${x.width}`);
    }
    if (x.data.length !== x.n * x.height * x.width * x.channels) throw new Error('batch data length does not match its shape');
    const feeds: Record<string, ort.Tensor> = {
      input: new ort.Tensor('float32', x.data, [x.n, x.height, x.width, x.channels]),
    };
    if (objective.kind === 'filter') {
      if (objective.filters.length !== x.n) {
        throw new UsageError(`a filter objective needs one filter per batch image: ${objective.filters.length} filters for ${x.n} images`);
      }
      const count = graph.filterCount;
      for (const f of objective.filters) {
        if (!Number.isInteger(f) || f < 0 || (count !== undefined && f >= count)) {
          throw new UsageError(`filter ${f} is out of range for layer ${objective.layer}` + (count !== undefined ? ` (it has ${count} filters: 0..${count - 1})` : ''));
        }
      }
      feeds.filters = new ort.Tensor('int64', BigInt64Array.from(objective.filters.map((f) => BigInt(f))), [x.n]);
    }
    if (objective.kind === 'weighted') {
      const w = objective.weights;
      feeds.weights = new ort.Tensor('float32', w.data, [w.n, w.height, w.width, w.channels]);
    }
    const result = await session.run(feeds);
    const values = result.values!.data as Float32Array;
    if (wrt) return { values, layerActivation: result.layer_activation!, layerGradient: result.layer_gradient! };
    const gradient = outputs === 'gradient' ? (result.gradient!.data as Float32Array) : undefined;
    return { values, gradient };
  }

  private session(objective: Objective, normalize: GradientNormalization, outputs: 'values' | 'gradient', n: number, wrt?: string): Promise<CompiledSession> {
    // Only filter objectives gain from a fixed batch size (the picked-channel target convolution).
    const batch = this.specializeBatch && objective.kind === 'filter' ? n : undefined;
    const key = cacheKey(objective, normalize, outputs, batch) + (wrt === undefined ? '' : `|wrt=${wrt}`);
    let pending = this.sessions.get(key);
    if (pending) {
      // Most recently used last: the Map's order is the eviction order.
      this.sessions.delete(key);
      this.sessions.set(key, pending);
      return pending;
    }
    pending = this.compile(key, objective, normalize, outputs, batch, wrt);
    this.sessions.set(key, pending);
    // A failed compile is not cached: the error repeats, but a fixed model can retry.
    pending.catch(() => this.sessions.delete(key));
    // Each session holds its own weights and activation arena: keep only the few most recent, so a
    // job that walks layer after layer does not accumulate every layer's memory.
    while (this.sessions.size > MAX_LIVE_SESSIONS) {
      const [oldest, old] = this.sessions.entries().next().value as [string, Promise<CompiledSession>];
      this.sessions.delete(oldest);
      old.then((c) => c.session.release()).catch(() => undefined);
    }
    return pending;
  }

  private async compile(
    key: string,
    objective: Objective,
    normalize: GradientNormalization,
    outputs: 'values' | 'gradient',
    batch: number | undefined,
    wrt?: string,
  ): Promise<CompiledSession> {
    const graph = compileGradientGraph(this.model, objective, { normalize, outputs, batch, wrt });
    const start = performance.now();
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(graph.modelProto, this.sessionOptions());
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.device === 'cuda') {
        throw new OnnxUnavailableError(`onnxruntime could not start its CUDA provider: ${message}. Install it with ${ONNXRUNTIME_CUDA_INSTALL}`);
      }
      throw new Error(`onnxruntime rejected the compiled graph for ${key}: ${message}`);
    }
    const sessionMs = performance.now() - start;
    const record: OnnxCompileRecord = {
      key,
      outputs,
      layers: graph.layers.length,
      nodes: graph.nodeCount,
      buildMs: graph.buildMs,
      sessionMs,
      compileMs: graph.buildMs + sessionMs,
      bytes: graph.modelProto.byteLength,
    };
    this.records.push(record);
    return { session, graph, record };
  }
}

/** Live sessions kept per engine (gradient and values graphs of the current and the previous target). */
const MAX_LIVE_SESSIONS = 4;

/** Filters are a graph input, so they are not part of the key; layer terms (weights, reductions) are baked. */
function cacheKey(objective: Objective, normalize: GradientNormalization, outputs: 'values' | 'gradient', batch: number | undefined): string {
  const what =
    objective.kind === 'region'
      ? `region:${objective.layer}:${objective.box?.join(',') ?? 'all'}`
      : objective.kind === 'weighted'
      ? `weighted:${objective.layer}`
      : objective.kind === 'filter'
      ? `filter:${objective.layer}${objective.preActivation ? ':pre' : ''}${objective.position ? `@${objective.position.y},${objective.position.x}` : ''}${objective.negative ? ':neg' : ''}`
      : `layers:${objective.terms.map((t) => `${t.layer}*${t.weight}:${t.reduce}`).join('+')}`;
  const n = batch === undefined ? '' : `|n=${batch}`;
  return outputs === 'values' ? `${what}|values${n}` : `${what}|${normalize}${n}`;
}

/** An onnxruntime output as LayerMaps: NHWC image maps, or [n, c] as n x 1 x 1 x c. */
function tensorMaps(t: ort.Tensor): LayerMaps {
  const d = t.dims;
  const data = t.data as Float32Array;
  if (d.length === 4) return { data, n: d[0]!, height: d[1]!, width: d[2]!, channels: d[3]! };
  if (d.length === 2) return { data, n: d[0]!, height: 1, width: 1, channels: d[1]! };
  throw new UsageError(`feature maps of rank ${d.length} are not images (shape [${d.join(', ')}])`);
}

/**
 * An OnnxEngine for `model`, after checking that every layer from its input to its outputs compiles
 * (throws OnnxUnsupportedError naming the first that does not, OnnxUnavailableError when the asked
 * execution provider is missing). What `--backend onnx|auto` calls.
 */
export async function createOnnxEngine(model: LayersModel, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
  const unsupported = findUnsupportedLayer(model);
  if (unsupported) throw unsupported;
  return new OnnxEngine(model, options);
}

