/**
 * Record, validate, then run: a raw config (from flags or a YAML/JSON file) is checked as a whole
 * (every stage's options, the recipe, the init, the filter selection, the output folder) before a
 * model loads or a tensor exists.
 */
import { z } from 'zod';
import { UsageError, didYouMean } from '../errors.js';
import { getRecipe, type Recipe, type SpectralSettings } from '../ascent/recipes.js';
import { parseInit, type InitSpec } from '../ascent/init.js';
import { parseFilterSelection, type FilterSelection } from '../ascent/filters.js';
import type { GradientNormalization } from '../engine/engine.js';
import { STAGES, STAGE_NAMES } from './registry.js';
import type { PipelineConfig } from './schema.js';
import { parseObjectiveTerms } from '../ascent/objective-spec.js';
import { SEED_LAYERS } from '../model/unet.js';

export type ConfigPath = (string | number)[];

/** Maps a config path to a `file:line:col` prefix when the config came from a file. */
/** `key: true` points at the key itself (for unknown keys) rather than its value. */
export type Locate = (path: ConfigPath, options?: { key?: boolean }) => string | undefined;

export interface ValidatedPipeline {
  readonly config: PipelineConfig;
  readonly mode: 'filters' | 'dream';
  /** Target layers, defaults resolved per mode. */
  readonly layers: readonly string[];
  readonly recipe: Recipe;
  readonly init: InitSpec;
  readonly filters: FilterSelection;
  readonly steps: number;
  readonly step: number;
  readonly normalize: GradientNormalization;
  /** A spectral recipe's settings with the config's `ascend.lucid` overrides; undefined for pixel recipes. */
  readonly spectral?: SpectralSettings;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(raw: unknown, path: ConfigPath): unknown {
  let cur: unknown = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

function formatIssue(issue: z.core.$ZodIssue, stage: string, raw: unknown, locate?: Locate): string {
  const path: ConfigPath = [stage, ...(issue.path as (string | number)[])];
  const where = locate?.(path);
  const prefix = where ? `${where}: ` : '';
  const dotted = path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const schema = STAGES.find((s) => s.name === stage)!.schema as z.ZodObject;
    const known = Object.keys(schema.shape ?? {});
    return issue.keys
      .map((key) => {
        const keyPath = [...path, key];
        const keyWhere = locate?.(keyPath, { key: true });
        const hint = didYouMean(key, known);
        return `${keyWhere ? `${keyWhere}: ` : prefix}${keyPath.join('.')}: unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; valid keys: ${known.join(', ')}`;
      })
      .join('\n');
  }
  const found = describeValue(valueAt(raw, path));
  const expected =
    issue.code === 'invalid_value'
      ? `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
      : issue.code === 'invalid_type'
        ? issue.expected === 'int' ? 'an integer' : issue.expected
        : issue.message.replace(/^(Invalid input: )?(expected )?/i, '').replace(/^Too (small|big): expected \S+ to (have|be) /, '');
  return `${prefix}${dotted}: expected ${expected}, found ${found}`;
}

/** Validates a raw config object (stage name -> options). Throws one UsageError listing every problem. */
export function validatePipeline(raw: unknown, locate?: Locate): ValidatedPipeline {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${locate?.([]) ? `${locate([])}: ` : ''}a pipeline must be a mapping of stage names (${STAGE_NAMES.join(', ')}) to their options`);
  }
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (key === 'name' || key === 'description') continue;
    if (!STAGE_NAMES.includes(key)) {
      const where = locate?.([key], { key: true });
      const hint = didYouMean(key, STAGE_NAMES);
      problems.push(`${where ? `${where}: ` : ''}unknown stage "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; valid stages: ${STAGE_NAMES.join(', ')}`);
    }
  }
  for (const stage of STAGES) {
    const options = (raw as Record<string, unknown>)[stage.name] ?? {};
    const parsed = stage.schema.safeParse(options);
    if (parsed.success) config[stage.name] = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(formatIssue(issue, stage.name, raw, locate));
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const cfg = config as unknown as PipelineConfig;
  const semantic = <T>(path: ConfigPath, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      const where = locate?.(path);
      problems.push(`${where ? `${where}: ` : ''}${path.join('.')}: ${err.message}`);
      return undefined;
    }
  };
  const dream = cfg.ascend.mode === 'dream';
  const recipe = semantic(['ascend', 'recipe'], () => getRecipe(cfg.ascend.recipe));
  const init = semantic(['seed', 'init'], () => parseInit(cfg.seed.init ?? recipe?.init ?? 'uniform:0:2'));
  const filters = semantic(['ascend', 'filters'], () => parseFilterSelection(cfg.ascend.filters));
  if (dream) {
    semantic(['ascend', 'layers'], () => (cfg.ascend.layers ?? []).forEach((l) => parseObjectiveTerms(l)));
    semantic(['seed', 'inputs'], () => {
      if (!cfg.seed.inputs?.length) throw new UsageError('ascend.mode dream needs seed.inputs: the files or folders to dream on');
    });
    semantic(['seed', 'window'], () => {
      if (!(cfg.seed.window[0] < cfg.seed.window[1])) throw new UsageError(`expected LOW < HIGH percentiles, found [${cfg.seed.window.join(', ')}]`);
    });
  } else {
    semantic(['seed', 'inputs'], () => {
      if (cfg.seed.inputs) throw new UsageError('seed.inputs is used by ascend.mode dream; to seed filter visualizations from an image use seed.init: image:PATH');
    });
  }
  const spectral = semantic(['ascend', 'lucid'], () => {
    if (cfg.ascend.lucid && !recipe?.spectral) {
      throw new UsageError(`these settings are for a spectral recipe (lucid); recipe ${cfg.ascend.recipe} ascends pixels`);
    }
    return recipe?.spectral ? Object.freeze({ ...recipe.spectral, ...cfg.ascend.lucid }) : undefined;
  });
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return Object.freeze({
    spectral,
    config: cfg,
    mode: cfg.ascend.mode,
    layers: cfg.ascend.layers ?? (dream ? ['uconv128'] : [...SEED_LAYERS]),
    recipe: recipe!,
    init: init!,
    filters: filters!,
    steps: cfg.ascend.steps ?? (dream ? 10 : recipe!.steps),
    step: cfg.ascend.step ?? (dream ? 0.01 : recipe!.step),
    normalize: (cfg.ascend.normalize as GradientNormalization | undefined) ?? recipe!.normalize,
  });
}
