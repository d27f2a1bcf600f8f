/**
 * Per-filter and per-layer numbers that say what a recipe changed: dead tiles, activation reached,
 * high-frequency share, and the orientation of each result's spectrum (shares, dominant angle,
 * histogram), rounded for the manifest, plus the stdout table.
 */
import { ORIENTATION_BINS, readSpectrum, type SpectrumReading } from './analysis.js';

export type SpectrumRecord = SpectrumReading;

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

export function readingOf(image: Float32Array, width: number, height: number, channels: number): SpectrumRecord {
  const r = readSpectrum(image, width, height, channels);
  return {
    hf: round(r.hf),
    vertical: round(r.vertical),
    horizontal: round(r.horizontal),
    oblique: round(r.oblique),
    dominantAngle: round(r.dominantAngle, 1),
    orientedness: round(r.orientedness),
    histogram: r.histogram.map((v) => round(v)),
  };
}

export interface ReadingRecord {
  activation: { start: number; end: number };
  dead?: boolean;
  spectrum?: SpectrumRecord;
}

export interface LayerReadings {
  /** Mean objective at the end over live filters. */
  activationReached: number;
  /** Means over live filters of the per-filter shares. */
  hfShare: number;
  verticalShare: number;
  horizontalShare: number;
  obliqueShare: number;
  /** Live filters that are neither vertical (vertical share > 2x horizontal) nor horizontal (the reverse). */
  oblique: number;
  /** Median over live filters of |dominant angle| off vertical, degrees. */
  medianAngleOffVertical: number;
  /** Mean over live filters of each filter's orientation histogram (12 bins of 15 degrees, bin 0 vertical). */
  histogram: number[];
}

export function summariseReadings(records: readonly ReadingRecord[]): LayerReadings {
  const live = records.filter((r) => !r.dead && r.spectrum);
  const mean = (f: (r: ReadingRecord) => number) => (live.length ? round(live.reduce((s, r) => s + f(r), 0) / live.length) : 0);
  const angles = live.map((r) => Math.abs(r.spectrum!.dominantAngle)).sort((a, b) => a - b);
  const median = angles.length ? (angles[(angles.length - 1) >> 1]! + angles[angles.length >> 1]!) / 2 : 0;
  const histogram = new Array<number>(ORIENTATION_BINS).fill(0).map((_, b) => mean((r) => r.spectrum!.histogram[b]!));
  return {
    activationReached: mean((r) => r.activation.end),
    hfShare: mean((r) => r.spectrum!.hf),
    verticalShare: mean((r) => r.spectrum!.vertical),
    horizontalShare: mean((r) => r.spectrum!.horizontal),
    obliqueShare: mean((r) => r.spectrum!.oblique),
    oblique: live.filter((r) => !(r.spectrum!.vertical > 2 * r.spectrum!.horizontal) && !(r.spectrum!.horizontal > 2 * r.spectrum!.vertical)).length,
    medianAngleOffVertical: round(median, 1),
    histogram,
  };
}

type TableRow = LayerReadings & { layer: string; filters: number; dead: number; vertical: number; horizontal: number };

/** A fixed-width text table, one row per layer. */
export function readingsTable(rows: readonly TableRow[]): string {
  const head = ['layer', 'filters', 'dead', 'reached', 'HF', 'vert', 'horiz', 'obl', 'V/H/O', 'angle'];
  const body = rows.map((r) => [
    r.layer,
    String(r.filters),
    String(r.dead),
    r.activationReached.toPrecision(3),
    r.hfShare.toFixed(2),
    r.verticalShare.toFixed(2),
    r.horizontalShare.toFixed(2),
    r.obliqueShare.toFixed(2),
    `${r.vertical}/${r.horizontal}/${r.oblique}`,
    `${r.medianAngleOffVertical.toFixed(0)} deg`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return `${[fmt(head), ...body.map(fmt)].join('\n')}\n`;
}
