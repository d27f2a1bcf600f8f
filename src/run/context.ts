/**
 * The run context: the one place a run is opened, whatever the mode. It creates the output folder,
 * loads the model, lets the mode check its config against the model, builds the engine, plans the
 * workers, announces fallbacks and skipped backends as events, and assembles the manifest skeleton
 * (command, config, model id and sha256, engine, versions, seed, start time, wall time).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { EventSink } from '../events.js';
import type { BackendChoice } from '../engine/backend.js';
import { planParallelism, type Engine } from '../engine/engine.js';
import { createEngine } from '../engine/select.js';
import { ensureWritableDir } from '../io/atomic.js';
import { loadModel, type LoadedModel } from '../model/load.js';
import { modelChannels } from '../model/introspect.js';
import { sizeMultiple } from '../model/input-size.js';
import { buildReport } from '../report/build.js';
import { packageVersions, writeManifest, type Manifest } from './manifest.js';
import type { ModeOutput } from './mode.js';
import type { ModelStage } from './stages.js';

/** What any process (the main thread or a worker) needs to compute: the model and its engine. */
export interface EngineContext {
  readonly loaded: LoadedModel;
  readonly engine: Engine;
  /** The model's input channels and pooling factor (input sides must be multiples of it). */
  readonly channels: number;
  readonly divisor: number;
}

export interface RunContext extends EngineContext {
  readonly command: string;
  readonly out: string;
  readonly emit: EventSink;
  readonly startedAt: string;
  /** Worker threads the plan gives this run (1: work runs in this thread). */
  readonly workers: number;
  /** The model stage a worker opens its own engine with: the engine family this run resolved to. */
  workerModel(poolSize: number): ModelStage;
  /** The manifest as of now (wall time measured at the call). */
  manifest(output: ModeOutput): Manifest;
  /** Writes the manifest; writes are queued, so the file always holds the latest complete one. */
  writeManifest(output: ModeOutput): Promise<Manifest>;
  /** Ends the run: the final manifest, then OUT/index.html built from it, whatever the mode. */
  finish(output: ModeOutput): Promise<Manifest>;
}

export interface OpenRunOptions {
  command: string;
  model: ModelStage;
  out: string;
  /** Recorded in the manifest as `config` unless the mode returns its own. */
  config: unknown;
  seed: number;
  emit: EventSink;
  /** Worker threads asked for (undefined: the engine's default plan). */
  workers?: number;
  /** Runs after the model loads and before the engine is built: checks that need the model. */
  checkModel?: (loaded: LoadedModel) => void;
}

/** Loads the model and builds its engine: what a worker does before its first job. */
export async function openEngine(model: ModelStage): Promise<EngineContext & { skipped: string[]; fallback?: string }> {
  const loaded = await loadModel(model.source, { architecture: model.architecture });
  const { engine, skipped, fallback } = await createEngine(loaded.model, model.backend, { threads: model.threads, device: model.device });
  return { loaded, engine, channels: modelChannels(loaded.model), divisor: sizeMultiple(loaded.model), skipped, fallback };
}

export async function openRun(options: OpenRunOptions): Promise<RunContext> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const { emit, model } = options;
  await ensureWritableDir(options.out);
  const loaded = await loadModel(model.source, { architecture: model.architecture });
  emit({ type: 'info', message: `model ${loaded.id} (sha256 ${loaded.sha256.slice(0, 12)}): ${loaded.note}` });
  options.checkModel?.(loaded);
  if (!loaded.trained) emit({ type: 'warn', message: 'the model is not trained: results show an initialisation, not learned features' });

  // tfjs on wasm runs one thread per engine, so parallelism is one worker per core; ONNX Runtime threads
  // inside one engine, so it runs one worker with every core (see planParallelism).
  const cores = os.availableParallelism();
  const { engine, skipped, fallback } = await createEngine(loaded.model, model.backend, {
    threads: model.threads ?? planParallelism('onnx', options.workers, cores).threads,
    device: model.device,
  });
  for (const s of skipped) emit({ type: 'info', message: `backend skipped: ${s}` });
  if (fallback) emit({ type: 'warn', message: fallback });
  const { workers } = planParallelism(engine.info.engine, options.workers, cores);
  emit({ type: 'info', message: `engine ${engine.info.engine} on ${engine.info.backend} (${engine.info.provider}), ${workers} worker${workers === 1 ? '' : 's'}` });

  const manifest = (output: ModeOutput): Manifest => ({
    command: options.command,
    config: output.config ?? options.config,
    model: { spec: loaded.spec, id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note },
    engine: { ...engine.info, ...(engine.stats ? { stats: engine.stats() } : {}) },
    versions: packageVersions(),
    seed: options.seed,
    startedAt,
    wallTimeMs: Math.round(performance.now() - started),
    results: output.results,
    ...output.extra,
  });
  let writing: Promise<unknown> = Promise.resolve();
  const writeManifestQueued = (output: ModeOutput): Promise<Manifest> => {
    const m = manifest(output);
    const done = writing.then(() => writeManifest(options.out, m)).then(() => m);
    writing = done.catch(() => undefined);
    return done;
  };
  return {
    loaded,
    engine,
    channels: modelChannels(loaded.model),
    divisor: sizeMultiple(loaded.model),
    command: options.command,
    out: options.out,
    emit,
    startedAt,
    workers,
    workerModel: (poolSize) => ({
      ...model,
      // Workers build the engine this run resolved to, so `auto` does not probe (and warn) again per worker.
      backend: engine.info.engine === 'tfjs' ? (engine.info.backend as BackendChoice) : 'onnx',
      threads: model.threads ?? Math.max(1, Math.floor(cores / poolSize)),
    }),
    manifest,
    writeManifest: writeManifestQueued,
    async finish(output) {
      const m = await writeManifestQueued(output);
      await buildReport(options.out);
      return m;
    },
  };
}
