/**
 * DeepDream over a list of inputs (photos, DICOM, NIfTI, folders of them). Every input is read,
 * windowed into the network's range, dreamed and written back in its own format and units; an input
 * that fails is recorded with its reason while the others complete.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../engine/select.js';
import type { BackendChoice } from '../engine/backend.js';
import type { GradientNormalization, LayerReduce } from '../engine/engine.js';
import { InputError, UsageError, invalidParameterError } from '../errors.js';
import { ensureWritableDir } from '../io/atomic.js';
import { createImage, withData, type RawImage } from '../io/image.js';
import { parseInputSpec, type InputSpec } from '../io/input-spec.js';
import { percentiles } from '../io/intensity.js';
import { readImages } from '../io/read.js';
import { walkInputs } from '../io/walk.js';
import { writeImage, writeImages, type WriteFormat } from '../io/write.js';
import { loadModel, type LoadedModel } from '../model/load.js';
import { WorkerPool, spawnModuleWorker } from '../engine/pool.js';
import { planParallelism, type Engine, type Objective } from '../engine/engine.js';
import { sizeDivisor } from '../model/resize.js';
import { exactHalo } from '../model/receptive-field.js';
import { objectiveLayers } from '../engine/engine.js';
import { dream, validateDreamOptions, type DreamOptions, type OctaveRecord } from '../ascent/dream.js';
import { buildObjective, parseObjectiveTerms } from '../ascent/objective-spec.js';
import { mergeLuminance, splitLuminance } from '../ascent/color.js';
import { modelChannels } from '../ascent/visualize.js';
import type { Plane } from '../ascent/resample.js';
import { packageVersions, writeManifest, type Manifest } from './manifest.js';
import type { EventSink } from './events.js';

export const OUTPUT_FORMATS = Object.freeze(['png', 'tiff', 'nii', 'dcm'] as const);
export type OutputFormatName = (typeof OUTPUT_FORMATS)[number];

export interface DreamConfig {
  model: { source: string; architecture?: string; backend: BackendChoice; threads?: number; device?: 'cpu' | 'cuda' };
  inputs: string[];
  /** Glob filter for folders, e.g. "*.dcm". */
  include?: string;
  axis?: 'x' | 'y' | 'z';
  volume?: number;
  layers: string;
  objective: LayerReduce;
  octaves: number;
  octaveScale: number;
  steps: number;
  step: number;
  normalize: GradientNormalization;
  jitter: number;
  tile: number;
  /** Undefined: the model's receptive field - 1 at the objective's layers (exact tiles). */
  halo?: number;
  color: 'luminance' | 'gray';
  /** Percentiles of the input mapped to the network's [0, 1]. */
  window: { low: number; high: number };
  format?: OutputFormatName;
  out: string;
  seed: number;
}

export interface DreamRecord {
  input: string;
  /** Files written, relative to the output folder. */
  outputs?: string[];
  slices?: number;
  octaves?: OctaveRecord[];
  window?: { low: number; high: number };
  error?: string;
}

const FORMAT_NAMES: Record<OutputFormatName, WriteFormat> = { png: 'png', tiff: 'tiff', nii: 'nifti', dcm: 'dicom' };

function checkConfig(c: DreamConfig): void {
  if (c.inputs.length === 0) throw invalidParameterError('inputs', 'at least one file or folder', '');
  if (c.format !== undefined && !OUTPUT_FORMATS.includes(c.format)) throw invalidParameterError('--format', OUTPUT_FORMATS.join(', '), c.format);
  if (c.color !== 'luminance' && c.color !== 'gray') throw invalidParameterError('--color', 'luminance or gray', c.color);
  if (c.objective !== 'mean' && c.objective !== 'l2') throw invalidParameterError('--objective', 'mean or l2', c.objective);
  if (!(c.window.low >= 0 && c.window.high <= 100 && c.window.low < c.window.high)) {
    throw invalidParameterError('--window', 'percentiles LOW,HIGH with 0 <= LOW < HIGH <= 100', `${c.window.low},${c.window.high}`);
  }
  validateDreamOptions({ ...dreamOptions(c, 8, 0), objective: { kind: 'layers', terms: [] } });
  parseObjectiveTerms(c.layers);
}

function dreamOptions(c: DreamConfig, divisor: number, exact: number): Omit<DreamOptions, 'objective'> {
  return { octaves: c.octaves, octaveScale: c.octaveScale, steps: c.steps, step: c.step, normalize: c.normalize, jitter: c.jitter, tile: c.tile, halo: c.halo ?? exact, divisor, seed: c.seed };
}

/** Files and folders to input specs; a folder contributes every readable-looking file under it. */
async function expandInputs(inputs: string[], include?: string): Promise<{ specs: InputSpec[]; failures: DreamRecord[] }> {
  const specs: InputSpec[] = [];
  const failures: DreamRecord[] = [];
  for (const text of inputs) {
    const spec = parseInputSpec(text);
    const stat = await fs.stat(spec.path).catch(() => undefined);
    if (!stat) failures.push({ input: text, error: `${text}: no such file or directory` });
    else if (stat.isDirectory()) for (const f of await walkInputs(spec.path, { include })) specs.push(parseInputSpec(f));
    else specs.push(spec);
  }
  return { specs, failures };
}

function baseName(file: string): string {
  const name = path.basename(file);
  return name.replace(/\.nii\.gz$/i, '').replace(/\.[^.]+$/, '') || name;
}

function defaultFormat(image: RawImage): WriteFormat {
  return image.meta.format === 'dicom' ? 'dicom' : image.meta.format === 'nifti' ? 'nifti' : image.meta.format === 'tiff' ? 'tiff' : 'png';
}

const EXTENSIONS: Record<WriteFormat, string> = { png: '.png', tiff: '.tif', nifti: '.nii.gz', dicom: '.dcm' };

/** Maps a plane's values through the window (percentiles of the plane) to [0, 1] and back. */
function windowPlane(plane: Plane, window: { low: number; high: number }) {
  const [low, high] = percentiles(createImage(plane.width, plane.height, plane.channels, plane.data), [window.low, window.high]) as [number, number];
  const span = high - low || 1;
  return {
    normalized: { ...plane, data: plane.data.map((v) => (v - low) / span) },
    restore: (p: Plane): Plane => ({ ...p, data: p.data.map((v) => v * span + low) }),
    window: { low, high },
  };
}

/** What a process (main thread or worker) needs to dream: model, objective, engine. */
export interface DreamContext {
  loaded: LoadedModel;
  engine: Engine;
  objective: Objective;
  channels: number;
  divisor: number;
}

export async function createDreamContext(config: DreamConfig): Promise<DreamContext & { skipped: string[]; fallback?: string }> {
  const loaded = await loadModel(config.model.source, { architecture: config.model.architecture });
  const objective = buildObjective(loaded.model, parseObjectiveTerms(config.layers), config.objective);
  const { engine, skipped, fallback } = await createEngine(loaded.model, config.model.backend, { threads: config.model.threads, device: config.model.device });
  return { loaded, engine, objective, channels: modelChannels(loaded.model), divisor: sizeDivisor(loaded.model), skipped, fallback };
}

export interface DreamItemProgress {
  octave: number;
  octaves: number;
  step: number;
  steps: number;
  objective: number;
  slice: number;
  slices: number;
}

/** Dreams one input (all its slices) and writes it; an unreadable input becomes a record with its error. */
export async function dreamOne(ctx: DreamContext, spec: InputSpec, config: DreamConfig, onProgress?: (p: DreamItemProgress) => void): Promise<DreamRecord> {
  try {
    const images = await readImages(spec.path, { ...spec.read, axis: spec.read.axis ?? config.axis, volume: config.volume });
    const outputs: RawImage[] = [];
    let octaves: OctaveRecord[] = [];
    let window = { low: 0, high: 0 };
    for (const [i, image] of images.entries()) {
      const dreamed = await dreamImage(image, ctx.channels, config, async (plane) => {
        const w = windowPlane(plane, config.window);
        window = w.window;
        const result = await dream(ctx.engine, w.normalized, { ...dreamOptions(config, ctx.divisor, exactHalo(ctx.loaded.model, objectiveLayers(ctx.objective)) ?? 0), objective: ctx.objective }, (p) =>
          onProgress?.({ ...p, slice: i + 1, slices: images.length }),
        );
        octaves = result.octaves;
        return w.restore(result.image);
      });
      outputs.push(dreamed);
    }
    const format = config.format ? FORMAT_NAMES[config.format] : defaultFormat(images[0]!);
    const description = `unet-dream dream ${config.layers} (${config.objective}), ${config.octaves} octaves x ${config.steps} steps`;
    const written: string[] = [];
    const base = outputBase(spec);
    if (outputs.length > 1 && (format === 'nifti' || format === 'tiff')) {
      const file = path.join(config.out, `${base}${EXTENSIONS[format]}`);
      await writeImages(outputs, file, { format, description });
      written.push(file);
    } else {
      for (const [i, out] of outputs.entries()) {
        const file = path.join(config.out, `${base}${outputs.length > 1 ? `-${String(i).padStart(4, '0')}` : ''}${EXTENSIONS[format]}`);
        await writeImage(out, file, { format, description });
        written.push(file);
      }
    }
    return { input: spec.text, outputs: written.map((f) => path.relative(config.out, f)), slices: outputs.length, octaves, window };
  } catch (err) {
    if (!(err instanceof InputError) && !(err instanceof UsageError)) throw err;
    return { input: spec.text, error: err.message };
  }
}

/** Output base name: the input's, plus the slice selector when one was given. */
function outputBase(spec: InputSpec): string {
  const suffix = spec.read.slice !== undefined ? `-${spec.read.axis ?? 'slice'}${spec.read.slice}` : '';
  return `${baseName(spec.path)}${suffix}`;
}

export interface DreamRunOptions {
  command: string;
  onEvent?: EventSink;
  /** Inputs dreamed at once, each on its own worker thread and engine (default 1: in this thread). */
  concurrency?: number;
  /** Keep the results already in OUT/manifest.json whose outputs exist, and do only the rest. */
  resume?: boolean;
  /** Aborting stops new inputs from starting; those in flight finish and are recorded. */
  signal?: AbortSignal;
}

async function previousRecords(out: string): Promise<Map<string, DreamRecord>> {
  const kept = new Map<string, DreamRecord>();
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { results: DreamRecord[] };
    for (const r of manifest.results) {
      if (r.error || !r.outputs?.length) continue;
      const complete = await Promise.all(r.outputs.map((f) => fs.stat(path.join(out, f)).then(() => true, () => false)));
      if (complete.every(Boolean)) kept.set(r.input, r);
    }
  } catch {
    // No readable manifest: nothing to resume from.
  }
  return kept;
}

export async function runDream(config: DreamConfig, options: DreamRunOptions): Promise<Manifest> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const emit = options.onEvent ?? (() => undefined);
  checkConfig(config);
  await ensureWritableDir(config.out);
  const { specs, failures } = await expandInputs(config.inputs, config.include);
  const previous = options.resume ? await previousRecords(config.out) : new Map<string, DreamRecord>();
  const ctx = await createDreamContext(config);
  if (!ctx.loaded.trained) emit({ type: 'warn', message: 'the builtin U-Net is not trained yet: dreams show an initialisation, not learned features' });
  for (const s of ctx.skipped) emit({ type: 'info', message: `backend skipped: ${s}` });
  if (ctx.fallback) emit({ type: 'warn', message: ctx.fallback });
  // Default: what the engine is fastest with (ONNX Runtime: one engine using every core; measured 15.6
  // slices/min at concurrency 1 vs 8.1 at 2 on this 2-core machine; tfjs-wasm: one worker per core).
  const requested = options.concurrency ?? planParallelism(ctx.engine.info.engine, undefined, os.availableParallelism()).workers;
  const concurrency = Math.max(1, Math.min(requested, specs.length || 1));
  emit({ type: 'info', message: `engine ${ctx.engine.info.engine} on ${ctx.engine.info.backend} (${ctx.engine.info.provider}), ${concurrency} at once` });
  if (previous.size > 0) emit({ type: 'info', message: `resuming: ${previous.size} input${previous.size === 1 ? '' : 's'} already done` });

  // Records by input, in input order; the manifest is rewritten (atomically) after every item.
  const records = new Map<string, DreamRecord>();
  for (const f of failures) {
    records.set(f.input, f);
    emit({ type: 'warn', message: f.error! });
  }
  const todo = specs.filter((s) => {
    const done = previous.get(s.text);
    if (done) records.set(s.text, done);
    return !done;
  });
  const order = [...failures.map((f) => f.input), ...specs.map((s) => s.text)];
  const manifestOf = (): Manifest => ({
    command: options.command,
    config,
    model: { spec: ctx.loaded.spec, id: ctx.loaded.id, sha256: ctx.loaded.sha256, trained: ctx.loaded.trained, note: ctx.loaded.note },
    engine: { ...ctx.engine.info, ...(ctx.engine.stats ? { stats: ctx.engine.stats() } : {}) },
    versions: packageVersions(),
    seed: config.seed,
    startedAt,
    wallTimeMs: Math.round(performance.now() - started),
    results: order.filter((i) => records.has(i)).map((i) => records.get(i)!),
  });
  let writing = Promise.resolve();
  const record = (r: DreamRecord) => {
    records.set(r.input, r);
    if (r.error) emit({ type: 'warn', message: r.error });
    writing = writing.then(() => writeManifest(config.out, manifestOf()).then(() => undefined));
    return writing;
  };

  const total = specs.length;
  let done = total - todo.length;
  const label = (spec: InputSpec, p?: DreamItemProgress) =>
    `${path.basename(spec.text)}${p ? `${p.slices > 1 ? ` slice ${p.slice}/${p.slices}` : ''} octave ${p.octave}/${p.octaves} step ${p.step}/${p.steps} objective ${p.objective.toFixed(4)}` : ''}`;
  emit({ type: 'progress', done, total, label: 'starting' });
  try {
    if (concurrency === 1) {
      for (const spec of todo) {
        if (options.signal?.aborted) break;
        await record(await dreamOne(ctx, spec, config, (p) => emit({ type: 'progress', done, total, label: label(spec, p) })));
        emit({ type: 'progress', done: ++done, total, label: label(spec) });
      }
    } else {
      const entry = new URL(`./dream-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
      // Each worker's engine gets its share of the cores (ONNX Runtime threads inside one engine).
      const workerConfig: DreamConfig = { ...config, model: { ...config.model, threads: config.model.threads ?? Math.max(1, Math.floor(os.availableParallelism() / concurrency)) } };
      const pool = new WorkerPool<InputSpec, DreamRecord, DreamItemProgress>(() => spawnModuleWorker(entry, { config: workerConfig }), concurrency, {
        onWorkerDied: (message) => emit({ type: 'warn', message }),
      });
      try {
        await Promise.all(
          todo.map(async (spec) => {
            if (options.signal?.aborted) return;
            const r = await pool.run(spec, (p) => emit({ type: 'progress', done, total, label: label(spec, p) })).catch((err: Error) => ({ input: spec.text, error: `${spec.text}: ${err.message}` }));
            await record(r);
            emit({ type: 'progress', done: ++done, total, label: label(spec) });
          }),
        );
      } finally {
        await pool.close();
      }
    }
  } finally {
    ctx.engine.dispose();
  }
  await writing;
  const manifest = manifestOf();
  await writeManifest(config.out, manifest);
  return manifest;
}

/**
 * Chooses what the network dreams on: a single-channel network sees the luminance of a colour image
 * (chroma and alpha are put back after) or a grey version (`--color gray`); a colour network sees RGB.
 */
async function dreamImage(image: RawImage, modelChannels: number, config: DreamConfig, run: (plane: Plane) => Promise<Plane>): Promise<RawImage> {
  const plane: Plane = { data: image.data, width: image.width, height: image.height, channels: image.channels };
  if (modelChannels === 1) {
    if (image.channels === 1) return withData(image, (await run(plane)).data);
    const split = splitLuminance(plane);
    const luma = await run(split.luma);
    if (config.color === 'gray') {
      const gray = split.alpha ? mergeLuminance(luma, split, 2) : luma;
      const out = createImage(image.width, image.height, gray.channels, gray.data, { ...image.meta, hasAlpha: Boolean(split.alpha), dicom: undefined });
      return out;
    }
    return withData(image, mergeLuminance(luma, split, image.channels).data);
  }
  if (modelChannels === 3 && image.channels >= 3) {
    const rgb = new Float32Array(image.width * image.height * 3);
    for (let i = 0; i < image.width * image.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = image.data[i * image.channels + c]!;
    const out = await run({ ...plane, data: rgb, channels: 3 });
    const data = Float32Array.from(image.data);
    for (let i = 0; i < image.width * image.height; i++) for (let c = 0; c < 3; c++) data[i * image.channels + c] = out.data[i * 3 + c]!;
    return withData(image, data);
  }
  if (modelChannels === 3 && image.channels === 1) {
    const rgb = new Float32Array(image.width * image.height * 3);
    for (let i = 0; i < image.data.length; i++) rgb.fill(image.data[i]!, i * 3, i * 3 + 3);
    const out = await run({ ...plane, data: rgb, channels: 3 });
    return createImage(image.width, image.height, 3, out.data, { ...image.meta, dicom: undefined, nifti: undefined });
  }
  throw new UsageError(`the model takes ${modelChannels} input channels; ${image.meta.source} has ${image.channels}`);
}
