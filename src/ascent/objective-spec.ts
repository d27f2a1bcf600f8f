/**
 * Dream objectives from text: `uconv128:1,conv512:0.5` (weighted layers) or `conv512#17` (one filter).
 * Checked against the model before any tensor exists.
 */
import type { LayerReduce, Objective } from '../engine/engine.js';
import type { LayersModel } from '../tf.js';
import { UsageError, invalidParameterError, unknownNameError } from '../errors.js';
import { targetableLayers } from '../model/introspect.js';

export interface ObjectiveTerm {
  layer: string;
  weight: number;
  filter?: number;
}

export function parseObjectiveTerms(spec: string): ObjectiveTerm[] {
  const terms = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^([^:#\s]+)(?:#(\d+))?(?::(-?[\d.]+(?:e-?\d+)?))?$/.exec(part);
      if (!m) throw invalidParameterError('layers', 'LAYER, LAYER:WEIGHT or LAYER#FILTER, comma-separated', part);
      const weight = m[3] === undefined ? 1 : Number(m[3]);
      if (!Number.isFinite(weight)) throw invalidParameterError('layers', 'a numeric weight after ":"', part);
      return { layer: m[1]!, weight, ...(m[2] !== undefined ? { filter: Number(m[2]) } : {}) };
    });
  if (terms.length === 0) throw invalidParameterError('layers', 'at least one layer', spec);
  if (terms.some((t) => t.filter !== undefined) && terms.length > 1) {
    throw new UsageError('layers: a single-filter objective (LAYER#FILTER) cannot be combined with other layers', 'layers');
  }
  return terms;
}

export function buildObjective(model: LayersModel, terms: ObjectiveTerm[], reduce: LayerReduce): Objective {
  const valid = targetableLayers(model);
  for (const t of terms) {
    if (!valid.includes(t.layer)) throw unknownNameError('layer', t.layer, valid);
    if (t.filter !== undefined) {
      const channels = (model.getLayer(t.layer).outputShape as number[])[3]!;
      if (t.filter >= channels) throw new UsageError(`filter ${t.filter} is out of range for layer ${t.layer}: it has ${channels} filters, valid indices are 0-${channels - 1}`);
    }
  }
  const single = terms[0]!;
  if (single.filter !== undefined) return { kind: 'filter', layer: single.layer, filters: [single.filter] };
  return { kind: 'layers', terms: terms.map((t) => ({ layer: t.layer, weight: t.weight, reduce })) };
}
