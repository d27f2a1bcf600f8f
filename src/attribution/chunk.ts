/**
 * How many SmoothGrad / IG images go to the engine per call: as many as fit a memory budget. A
 * gradient graph keeps layer outputs for the backward pass and gradients of similar size; ONNX
 * Runtime's planner reuses buffers, so what one more image costs is about BYTES_PER_ELEMENT_KEPT bytes
 * per element of all layer outputs at the input's size. Calibrated on the shipped U-Net on ONNX
 * Runtime CPU at 256x256 (71.7 M output elements per image; `npx tsx bench/real-slices.ts --chunks`):
 * peak RSS 1269, 1599 and 2354 MB at 1, 2 and 4 images per call, i.e. 4.6-5.3 bytes per element per
 * image; 6 keeps a margin. Larger chunks were not faster on CPU (CPU time 7.7, 9.9 and 12.8 s for 8
 * samples at 1, 2 and 4 per call), so the budget costs no speed.
 */
import type { LayersModel } from '../tf.js';
import { receptiveFields } from '../model/receptive-field.js';

export const BYTES_PER_ELEMENT_KEPT = 6;

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
