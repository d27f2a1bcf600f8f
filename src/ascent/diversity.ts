/**
 * The diversity objective (Olah et al. 2017, "Feature Visualization", section "Diversity"; Lucid's
 * objectives.diversity): N images of one filter are optimised together, and a penalty on how alike
 * their Gram matrices are at the filter's layer pushes them to excite the filter in different ways
 * instead of N times the same way. The Gram matrix G = A^T A / P (A: the layer's P positions by C
 * channels) keeps which channels fire together and drops where, so two images are "alike" when they
 * use the same mix of features, wherever they put them.
 *
 * Penalty per group of N images: (1/N) sum over ordered pairs i != j of cos(G_i, G_j). Its gradient
 * with respect to each image's activations is computed here, on the host; the engine carries it back
 * to the input as a weighted objective (see Objective `weighted`).
 */
import { positionIndex, type Batch, type Engine, type LayerMaps, type Objective } from '../engine/engine.js';

export interface GramDiversity {
  /** The penalty summed over groups. */
  penalty: number;
  /** d(penalty)/d(activations), the layout of the maps. */
  gradient: Float32Array;
  /** Per group: the mean over its pairs of 1 - cos(G_i, G_j) (0: the same mix of features; 1: none shared). */
  meanDistance: number[];
}

/** Each image's Gram matrix (C x C, row-major, over its P positions, divided by P). */
function gram(maps: LayerMaps, b: number): Float64Array {
  const { height, width, channels: c } = maps;
  const positions = height * width;
  const g = new Float64Array(c * c);
  const base = b * positions * c;
  for (let p = 0; p < positions; p++) {
    const row = base + p * c;
    for (let i = 0; i < c; i++) {
      const a = maps.data[row + i]!;
      if (a === 0) continue; // ReLU maps are mostly zeros
      for (let j = i; j < c; j++) g[i * c + j] += a * maps.data[row + j]!;
    }
  }
  for (let i = 0; i < c; i++) {
    for (let j = i; j < c; j++) {
      const v = g[i * c + j]! / positions;
      g[i * c + j] = v;
      g[j * c + i] = v;
    }
  }
  return g;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * The penalty over consecutive groups of `group` images (image b belongs to group floor(b / group)).
 * An image whose Gram matrix is zero (a layer silent on it) has no direction: it adds nothing and gets
 * no gradient from the penalty.
 */
export function gramDiversity(maps: LayerMaps, group: number): GramDiversity {
  const { n, height, width, channels: c } = maps;
  if (!Number.isInteger(group) || group < 1 || n % group !== 0) throw new Error(`diversity: ${n} images do not split into groups of ${group}`);
  const positions = height * width;
  const gradient = new Float32Array(maps.data.length);
  const meanDistance: number[] = [];
  let penalty = 0;
  for (let first = 0; first < n; first += group) {
    const grams = Array.from({ length: group }, (_, k) => gram(maps, first + k));
    const norms = grams.map((g) => Math.sqrt(dot(g, g)));
    const unit = grams.map((g, k) => (norms[k]! > 0 ? g.map((v) => v / norms[k]!) : g));
    const cos: number[][] = unit.map((u, i) => unit.map((v, j) => (i === j || norms[i] === 0 || norms[j] === 0 ? 0 : dot(u, v))));
    let distance = 0;
    let pairs = 0;
    for (let i = 0; i < group; i++) {
      for (let j = 0; j < group; j++) {
        if (i === j) continue;
        penalty += cos[i]![j]! / group;
        distance += 1 - cos[i]![j]!;
        pairs++;
      }
    }
    meanDistance.push(pairs ? distance / pairs : 0);
    for (let i = 0; i < group; i++) {
      if (norms[i] === 0) continue;
      // dP/dG_i = (2/N) sum_{j != i} (u_j - cos_ij u_i) / |G_i|: symmetric, since every u is.
      const m = new Float64Array(c * c);
      for (let j = 0; j < group; j++) {
        if (j === i || norms[j] === 0) continue;
        const uj = unit[j]!;
        const ui = unit[i]!;
        const s = cos[i]![j]!;
        for (let k = 0; k < m.length; k++) m[k] += uj[k]! - s * ui[k]!;
      }
      const scale = 2 / group / norms[i]!;
      // dP/dA[p, a] = sum_b (M[a, b] + M[b, a]) A[p, b] / P = 2 (A M)[p, a] / P, M symmetric.
      const base = (first + i) * positions * c;
      const factor = (2 * scale) / positions;
      for (let p = 0; p < positions; p++) {
        const row = base + p * c;
        for (let b = 0; b < c; b++) {
          const v = maps.data[row + b]!;
          if (v === 0) continue;
          const mb = b * c;
          for (let a = 0; a < c; a++) gradient[row + a] += factor * m[mb + a]! * v;
        }
      }
    }
  }
  return { penalty, gradient, meanDistance };
}

/** Settings of the diversity objective: images per filter, and the penalty's weight against the filter's objective. */
export interface DiversitySettings {
  copies: number;
  weight: number;
}

/**
 * One step's values and input gradients of objective_b - weight * penalty for a batch whose images
 * come in groups of `copies` (one filter each): a forward pass for the layer's activations, the
 * filter term and the penalty's gradient there on the host, and one weighted backward pass.
 * `values` are each image's own filter objective, as in a plain step.
 */
export async function diverseStep(
  engine: Engine,
  batch: Batch,
  objective: Extract<Objective, { kind: 'filter' }>,
  diversity: DiversitySettings,
): Promise<{ values: Float32Array; gradient: Float32Array; penalty: number; meanDistance: number[] }> {
  const [maps] = await engine.activations(batch, [objective.layer]);
  const { n, height, width, channels } = maps!;
  const positions = height * width;
  const values = new Float32Array(n);
  const { penalty, gradient: dPenalty, meanDistance } = gramDiversity(maps!, diversity.copies);
  const weights = new Float32Array(maps!.data.length);
  for (let i = 0; i < weights.length; i++) weights[i] = -diversity.weight * dPenalty[i]!;
  const sign = objective.negative ? -1 : 1;
  const at = objective.position && positionIndex(objective.position, height, width);
  for (let b = 0; b < n; b++) {
    const f = objective.filters[b]!;
    const base = b * positions * channels;
    if (at) {
      const k = base + (at.y * width + at.x) * channels + f;
      values[b] = sign * maps!.data[k]!;
      weights[k] += sign;
    } else {
      let sum = 0;
      for (let p = 0; p < positions; p++) {
        sum += maps!.data[base + p * channels + f]!;
        weights[base + p * channels + f] += sign / positions;
      }
      values[b] = (sign * sum) / positions;
    }
  }
  const { gradient } = await engine.gradient(batch, { kind: 'weighted', layer: objective.layer, weights: { ...maps!, data: weights } }, 'none');
  return { values, gradient, penalty, meanDistance };
}

/** The mean pairwise Gram distance of each group of `copies` images, from one forward pass. */
export async function diversityOf(engine: Engine, batch: Batch, layer: string, copies: number): Promise<number[]> {
  const [maps] = await engine.activations(batch, [layer]);
  return gramDiversity(maps!, copies).meanDistance;
}
