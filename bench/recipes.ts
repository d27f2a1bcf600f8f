/**
 * Bench section `recipes`: the `lucid` recipe against `seed` on the shipped model, both in this one
 * process, per layer: time per filter and per step, dead tiles, activation reached, high-frequency
 * share, orientation shares, and how stable each filter's orientation is across seeds (the same
 * filters, started from each seed's own noise). Each finished (recipe, seed, layer) is also appended
 * as a JSON line to `--log=FILE`, so a long run's partial results survive.
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../src/model/load.js';
import { createEngine } from '../src/engine/select.js';
import { visualizeFilters, type FilterResult } from '../src/ascent/visualize.js';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { RECIPES } from '../src/ascent/recipes.js';
import { readingOf, summariseReadings, type SpectrumRecord } from '../src/ascent/readings.js';
import { SEED_LAYERS } from '../src/model/unet.js';

export interface RecipeBenchOptions {
  model: string;
  layers: readonly string[];
  filters: number;
  seeds: readonly number[];
  size: number;
  threads: number;
  log?: string;
}

type Row = { recipe: string; seed: number; layer: string; msPerFilter: number; msPerStep: number; cpuMsPerStep: number; filters: { filter: number; dead: boolean; end: number; spectrum: SpectrumRecord }[] };

/** Axial difference of two orientations in degrees off vertical, in [0, 90]. */
function angleGap(a: number, b: number): number {
  const d = Math.abs(a - b) % 180;
  return Math.min(d, 180 - d);
}

function orientationClass(s: SpectrumRecord): 'V' | 'H' | 'O' {
  return s.vertical > 2 * s.horizontal ? 'V' : s.horizontal > 2 * s.vertical ? 'H' : 'O';
}

export async function benchRecipes(options: RecipeBenchOptions): Promise<Record<string, unknown>> {
  const loaded = await loadModel(options.model, {});
  const { engine } = await createEngine(loaded.model, 'onnx', { threads: options.threads });
  const init = await prepareInit(parseInit('uniform:0:2'), { acceleration: 4, center: 0.08 });
  const rows: Row[] = [];
  try {
    for (const seed of options.seeds) {
      for (const recipe of [RECIPES.seed!, RECIPES.lucid!]) {
        for (const layer of options.layers) {
          const run = (indices: number[], steps: number) =>
            visualizeFilters(engine, loaded.model, {
              layers: [layer],
              filters: { kind: 'list', indices },
              init,
              size: options.size,
              steps,
              step: recipe.step,
              normalize: recipe.normalize,
              seed,
              batch: 1,
              spectral: recipe.spectral,
            });
          // Warm-up on the last filter: compiles every graph the timed run uses (lucid: the
          // pre-activation one too), so the times are per step, not per compile.
          await run([options.filters], (recipe.spectral?.rescueSteps ?? 0) + 1);
          const cpu = process.cpuUsage();
          const t = performance.now();
          const results: FilterResult[] = await run(Array.from({ length: options.filters }, (_, i) => i), recipe.steps);
          const ms = (performance.now() - t) / results.length;
          const used = process.cpuUsage(cpu);
          const cpuMs = (used.user + used.system) / 1000 / results.length;
          const row: Row = {
            recipe: recipe.name,
            seed,
            layer,
            msPerFilter: Math.round(ms),
            msPerStep: Number((ms / recipe.steps).toFixed(1)),
            cpuMsPerStep: Number((cpuMs / recipe.steps).toFixed(1)),
            filters: results.map((r) => ({ filter: r.filter, dead: r.dead, end: r.activation.end, spectrum: readingOf(r.image, options.size, options.size, 1) })),
          };
          rows.push(row);
          if (options.log) appendFileSync(options.log, `${JSON.stringify(row)}\n`);
        }
      }
    }
  } finally {
    engine.dispose();
  }
  return { model: loaded.id, size: options.size, filtersPerLayer: options.filters, seeds: options.seeds, perLayer: summarise(rows, options) };
}

export function summarise(rows: Row[], options: Pick<RecipeBenchOptions, 'layers' | 'seeds'>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const recipe of ['seed', 'lucid']) {
    for (const layer of options.layers) {
      const mine = rows.filter((r) => r.recipe === recipe && r.layer === layer);
      if (!mine.length) continue;
      const first = mine[0]!;
      const readings = summariseReadings(first.filters.map((f) => ({ activation: { start: 0, end: f.end }, dead: f.dead, spectrum: f.spectrum })));
      // Orientation stability: per filter alive in every seed, the mean axial gap of its dominant
      // angle between seeds, and whether its V/H/O class is the same in all of them.
      let gaps = 0;
      let compared = 0;
      let sameClass = 0;
      for (const f of first.filters) {
        const across = mine.map((r) => r.filters.find((g) => g.filter === f.filter)!);
        if (across.length < 2 || across.some((g) => g.dead)) continue;
        let gap = 0;
        let pairs = 0;
        for (let i = 0; i < across.length; i++) for (let j = i + 1; j < across.length; j++) (gap += angleGap(across[i]!.spectrum.dominantAngle, across[j]!.spectrum.dominantAngle)), pairs++;
        gaps += gap / pairs;
        compared++;
        if (across.every((g) => orientationClass(g.spectrum) === orientationClass(across[0]!.spectrum))) sameClass++;
      }
      out.push({
        recipe,
        layer,
        seeds: mine.length,
        msPerFilter: Math.round(mine.reduce((s, r) => s + r.msPerFilter, 0) / mine.length),
        msPerStep: Number((mine.reduce((s, r) => s + r.msPerStep, 0) / mine.length).toFixed(1)),
        cpuMsPerStep: Number((mine.reduce((s, r) => s + (r.cpuMsPerStep ?? NaN), 0) / mine.length).toFixed(1)),
        dead: first.filters.filter((f) => f.dead).length,
        classes: ['V', 'H', 'O'].map((c) => first.filters.filter((f) => !f.dead && orientationClass(f.spectrum) === c).length).join('/'),
        deadPerSeed: mine.map((r) => r.filters.filter((f) => f.dead).length),
        ...readings,
        orientationCompared: compared,
        meanAngleGapDeg: compared ? Number((gaps / compared).toFixed(1)) : null,
        sameClassAcrossSeeds: sameClass,
      });
    }
  }
  // lucid's cost per step over seed's, per layer (wall and CPU): the goal is at most 1.5.
  for (const row of out.filter((r) => r.recipe === 'lucid')) {
    const seed = out.find((r) => r.recipe === 'seed' && r.layer === row.layer);
    if (!seed) continue;
    row.stepRatio = Number(((row.msPerStep as number) / (seed.msPerStep as number)).toFixed(2));
    row.cpuStepRatio = Number(((row.cpuMsPerStep as number) / (seed.cpuMsPerStep as number)).toFixed(2));
  }
  return out;
}

export const DEFAULT_RECIPE_BENCH: RecipeBenchOptions = { model: 'builtin', layers: SEED_LAYERS, filters: 16, seeds: [0, 1, 2], size: 128, threads: 1 };
