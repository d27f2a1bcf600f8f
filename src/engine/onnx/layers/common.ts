/**
 * What every layer compiler shares: the types a compiler takes and returns, `define` (check settings once,
 * emit later), config readers, weight access and the NHWC <-> NCHW moves. Rank-4 tensors live in NCHW
 * inside the graph (what onnxruntime's Conv and pooling kernels take); other ranks keep the Keras order.
 */
import type { tf } from '../../../tf.js';
import { OnnxUnsupportedError } from '../errors.js';
import type { Ops } from '../ops.js';

export type Shape = (number | null)[];

/** A tensor in the graph: its ONNX name and its Keras rank (batch included); rank 4 is stored NCHW. */
export interface Value {
  name: string;
  rank: number;
}

export type Layer = tf.layers.Layer;
export type Cfg = Record<string, unknown>;

export interface LayerInput {
  layer: Layer;
  cfg: Cfg;
  /** Keras shapes (batch first, NHWC) of the inputs and of the output. */
  inShapes: Shape[];
  outShape: Shape;
}

export interface EmitContext extends LayerInput {
  g: Ops;
  inputs: Value[];
}

export interface Emission {
  output: Value;
  /** Emits the input gradients (undefined for an input that gets none) given the output gradient. */
  backward: (gy: string) => (string | undefined)[];
}

export interface LayerCompiler {
  /** Throws OnnxUnsupportedError when the layer's settings are outside what the compiler handles. */
  check(input: LayerInput): void;
  emit(ctx: EmitContext): Emission;
  /**
   * Only channel filters[n] of image n ([N, 1, H, W] output), for a batch of exactly `batch` images:
   * what a filter objective on this layer needs. Undefined when the layer cannot do it cheaper.
   */
  emitPicked?(ctx: EmitContext, filters: string, batch: number): Emission | undefined;
}

export function define<P>(parse: (input: LayerInput, fail: (detail: string) => never) => P, emit: (ctx: EmitContext, p: P) => Emission): LayerCompiler {
  const run = (input: LayerInput) =>
    parse(input, (detail) => {
      throw new OnnxUnsupportedError(input.layer.name, input.layer.getClassName(), detail);
    });
  return { check: (input) => void run(input), emit: (ctx) => emit(ctx, run(ctx)) };
}

// Config and weight helpers

export function pair(value: unknown, name: string, fail: (d: string) => never): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return [value[0], value[1]];
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number') return [value[0], value[0]];
  return fail(`unsupported ${name} ${JSON.stringify(value)}`);
}

export function channelsLast(cfg: Cfg, fail: (d: string) => never): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') fail(`dataFormat ${String(cfg.dataFormat)} (only channelsLast)`);
}

export function padding(cfg: Cfg, fail: (d: string) => never): 'same' | 'valid' {
  const p = cfg.padding ?? 'valid';
  if (p !== 'same' && p !== 'valid') return fail(`padding ${String(p)}`);
  return p;
}

export function rank4(input: LayerInput, fail: (d: string) => never): void {
  for (const s of input.inShapes) if (s.length !== 4) fail(`input of rank ${s.length} (expects images [batch, height, width, channels])`);
}

export function staticDim(d: number | null, what: string, fail: (d: string) => never): number {
  if (d === null || d === undefined) return fail(`${what} is not known`);
  return d;
}

export interface WeightData {
  data: Float32Array;
  shape: number[];
}

export function weightsOf(layer: Layer): WeightData[] {
  return layer.getWeights().map((t) => ({ data: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape.slice() }));
}

/** Keras axis of a rank-`rank` tensor to the axis of its stored layout (NCHW for rank 4). */
export function internalAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return rank === 4 ? [0, 2, 3, 1][a]! : a;
}

/** NHWC <-> NCHW moves for rank-4 values; identity otherwise. */
export const TO_KERAS = [0, 2, 3, 1];
export const FROM_KERAS = [0, 3, 1, 2];
export function toKeras(g: Ops, v: Value): string {
  return v.rank === 4 ? g.transpose(v.name, TO_KERAS) : v.name;
}
export function fromKeras(g: Ops, name: string, rank: number): string {
  return rank === 4 ? g.transpose(name, FROM_KERAS) : name;
}
