/**
 * How many SmoothGrad / IG images go to the engine per call: as many as fit a memory budget. A
 * gradient graph keeps layer outputs for the backward pass and gradients of similar size; ONNX
 * Runtime's planner reuses buffers, so what one more image costs is about BYTES_PER_ELEMENT_KEPT bytes
 * per element of all layer outputs at the input's size. Calibrated on the shipped U-Net on ONNX
 * Runtime CPU at 256x256 (71.7 M output elements per image): peak RSS grew 330 MB from 1 to 2 images
 * per call and 480 MB from 2 to 4, 3.3-4.6 bytes per element; 5 keeps a margin. On CPU the time per
 * image was the same at 1, 2 or 4 images per call (BENCHMARKS.md), so a small chunk costs no speed.
 */
import type { LayersModel } from '../tf.js';
import { receptiveFields } from '../model/receptive-field.js';

export const BYTES_PER_ELEMENT_KEPT = 5;

/** Elements of every layer's output for one height x width image (from each layer's stride). */
export function outputElements(model: LayersModel, height: number, width: number): number {
  const fields = receptiveFields(model);
  let total = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape as (number | null)[] | (number | null)[][];
    if (Array.isArray(shape[0])) continue;
    const channels = (shape as (number | null)[]).at(-1) ?? 1;
    const jump = fields.get(layer.name)?.jump ?? 1;
    const spatial = shape.length === 4 ? Math.ceil(height / jump) * Math.ceil(width / jump) : 1;
    total += spatial * (channels ?? 1);
  }
  return total;
}

/** Images per engine call that fit `budgetMB` (at least 1, at most `count`). */
export function sampleChunk(model: LayersModel, height: number, width: number, budgetMB: number, count: number): number {
  const perImage = outputElements(model, height, width) * BYTES_PER_ELEMENT_KEPT;
  return Math.max(1, Math.min(count, Math.floor((budgetMB * 2 ** 20) / perImage)));
}
