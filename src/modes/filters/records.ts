/** What the filters mode records per filter and per layer in manifest.json. */
import type { StripeEnergy } from '../../ascent/analysis.js';
import type { OctaveRecord } from '../../ascent/octaves.js';
import type { SpectrumRecord } from '../../ascent/readings.js';

export interface FilterRecord {
  layer: string;
  filter: number;
  activation: { start: number; end: number };
  /** Present and true when the filter had no gradient at all (a dead unit on this start). */
  dead?: boolean;
  /** Spectral energy shares of the final image: variation along x (vertical stripes) and along y. */
  stripes?: StripeEnergy;
  /** The final image's spectrum: high-frequency share, orientation shares, dominant angle, histogram. */
  spectrum?: SpectrumRecord;
  /** Multi-octave or spectral runs: each octave's size and objective at its start and end. */
  octaves?: OctaveRecord[];
  /**
   * Diversity runs: the filter's images (a row of the sheet; `rect` is the first, whose readings
   * `spectrum` and `stripes` are), the penalty's weight, their mean pairwise Gram distance at the layer
   * (1 - cosine of the Gram matrices, over pairs), each image's objective at the end and its tile.
   */
  diversity?: { images: number; weight: number; meanGramDistance: number; ends: number[]; rects: { x: number; y: number; width: number; height: number }[] };
  /** The layer's contact sheet. */
  file: string;
  /** This filter's own PNG, with `write.tiles`. */
  tile?: string;
  /** Where the filter's tile sits in the sheet, in the sheet's pixels. */
  rect?: { x: number; y: number; width: number; height: number };
  /** Objective (mean activation) at every ascent step, then after the last: steps + 1 values. */
  curve?: number[];
  /** The layer's sheet as SVG, with render.format svg. */
  vector?: string;
  /** Animated WebP of the ascent, with write.animate. */
  animation?: string;
}

export interface LayerSummary {
  layer: string;
  filters: number;
  dead: number;
  meanActivationGain: number;
  /** Filters whose image varies mostly along x (alongX > 2 alongY): vertical line detectors. */
  vertical: number;
  /** ... mostly along y: horizontal line detectors. */
  horizontal: number;
  meanAlongX: number;
  meanAlongY: number;
}

/** Per-layer figures: how many filters are line detectors in each direction, how many are dead. */
export function layerSummaries(records: FilterRecord[]): LayerSummary[] {
  const layers = [...new Set(records.map((r) => r.layer))];
  return layers.map((layer) => {
    const rs = records.filter((r) => r.layer === layer);
    const live = rs.filter((r) => !r.dead);
    const withStripes = live.filter((r) => r.stripes);
    const mean = (f: (r: FilterRecord) => number, of: FilterRecord[]) => (of.length ? Number((of.reduce((s, r) => s + f(r), 0) / of.length).toFixed(4)) : 0);
    return {
      layer,
      filters: rs.length,
      dead: rs.length - live.length,
      meanActivationGain: mean((r) => r.activation.end - r.activation.start, live),
      vertical: withStripes.filter((r) => r.stripes!.alongX > 2 * r.stripes!.alongY).length,
      horizontal: withStripes.filter((r) => r.stripes!.alongY > 2 * r.stripes!.alongX).length,
      meanAlongX: mean((r) => r.stripes!.alongX, withStripes),
      meanAlongY: mean((r) => r.stripes!.alongY, withStripes),
    };
  });
}
