/**
 * Attribution targets of a reconstruction network: `output` (the sum of its output; for a model
 * trained residually that output is the residual, the aliasing it removes), `region:x0,y0,x1,y1` (the
 * output summed over a half-open pixel box) and `filter:LAYER#k` (channel k's mean activation).
 */
import type { Objective, RegionBox } from '../engine/engine.js';
import { invalidParameterError } from '../errors.js';

export type AttributionTarget =
  | { kind: 'output' }
  | { kind: 'region'; box: RegionBox }
  | { kind: 'filter'; layer: string; channel: number };

const FORMS = 'output, region:x0,y0,x1,y1 (a box with x0 < x1, y0 < y1) or filter:LAYER#k';

export function parseTarget(text: string): AttributionTarget {
  if (text === 'output') return { kind: 'output' };
  const region = /^region:(-?\d+),(-?\d+),(-?\d+),(-?\d+)$/.exec(text);
  if (region) {
    const [x0, y0, x1, y1] = region.slice(1).map(Number) as [number, number, number, number];
    if (x1 <= x0 || y1 <= y0) throw invalidParameterError('--target', `a region of positive area (x0 < x1 and y0 < y1; ${FORMS})`, text);
    if (x0 < 0 || y0 < 0) throw invalidParameterError('--target', 'a region inside the image (0 <= x0 < x1 <= width, 0 <= y0 < y1 <= height)', text);
    return { kind: 'region', box: [x0, y0, x1, y1] };
  }
  const filter = /^filter:([^#]+)#(\d+)$/.exec(text);
  if (filter) return { kind: 'filter', layer: filter[1]!, channel: Number(filter[2]) };
  throw invalidParameterError('--target', FORMS, text);
}

/** A region must lie inside every slice it is applied to (the output has the input's size). */
export function checkTargetInside(target: AttributionTarget, width: number, height: number, input: string): void {
  if (target.kind !== 'region') return;
  const [x0, y0, x1, y1] = target.box;
  if (x1 > width || y1 > height) {
    throw invalidParameterError('--target', `a region inside the ${width}x${height} image ${input} (0 <= x0 < x1 <= ${width}, 0 <= y0 < y1 <= ${height})`, `region:${target.box.join(',')}`);
  }
}

/**
 * The engine objective for n images. `output` sums only the slice's own pixels ([0, 0, width,
 * height)), not the padding added to reach a multiple of the model's pooling factor.
 */
export function targetObjective(target: AttributionTarget, outputLayer: string, n: number, width: number, height: number): Objective {
  if (target.kind === 'filter') return { kind: 'filter', layer: target.layer, filters: new Array<number>(n).fill(target.channel) };
  return { kind: 'region', layer: outputLayer, box: target.kind === 'region' ? target.box : [0, 0, width, height] };
}
