/** A Keras-like `model.summary()` as data, for `unet-dream layers` and the manifest. */
import type { LayersModel } from '../tf.js';

export interface LayerRow {
  name: string;
  type: string;
  outputShape: (number | null)[];
  params: number;
  inputs: string[];
}

export interface ModelSummary {
  layers: LayerRow[];
  totalParams: number;
  trainableParams: number;
}

function paramCount(weights: { shape: (number | null)[] }[]): number {
  return weights.reduce((sum, w) => sum + w.shape.reduce<number>((p, d) => p * (d ?? 1), 1), 0);
}

export function summarize(model: LayersModel): ModelSummary {
  const layers: LayerRow[] = model.layers.map((layer) => {
    const shape = layer.outputShape;
    const single = Array.isArray(shape[0]) ? (shape[0] as (number | null)[]) : (shape as (number | null)[]);
    const node = layer.inboundNodes[0];
    return {
      name: layer.name,
      type: layer.getClassName(),
      outputShape: single,
      params: layer.countParams(),
      inputs: node ? node.inboundLayers.map((l) => l.name) : [],
    };
  });
  return {
    layers,
    totalParams: layers.reduce((s, l) => s + l.params, 0),
    trainableParams: paramCount(model.trainableWeights),
  };
}

function shapeText(shape: (number | null)[]): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
}

/** Plain-text table in the layout of Keras' summary, so it reads side by side with the seed's. */
export function formatSummary(summary: ModelSummary): string {
  const rows = summary.layers.map((l) => [`${l.name} (${l.type})`, shapeText(l.outputShape), l.params.toLocaleString('en-US'), l.inputs.join(', ')]);
  const header = ['Layer (type)', 'Output Shape', 'Param #', 'Connected to'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd();
  const rule = (ch: string) => ch.repeat(widths.reduce((a, b) => a + b, 0));
  const out = [line(header), rule('=')];
  rows.forEach((r, i) => {
    out.push(line(r));
    out.push(rule(i === rows.length - 1 ? '=' : '_'));
  });
  out.push(`Total params: ${summary.totalParams.toLocaleString('en-US')}`);
  out.push(`Trainable params: ${summary.trainableParams.toLocaleString('en-US')}`);
  out.push(`Non-trainable params: ${(summary.totalParams - summary.trainableParams).toLocaleString('en-US')}`);
  return out.join('\n');
}
