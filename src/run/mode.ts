/**
 * What a mode is: a schema for its whole pipeline config and a function that runs it inside a run
 * context. The table of modes is src/modes/index.ts; docs/ARCHITECTURE.md says how to add one.
 */
import { z } from 'zod';
import type { LayersModel } from '../tf.js';
import type { RunContext } from './context.js';
import type { Manifest } from './manifest.js';
import type { ModelStage } from './stages.js';

export type ConfigPath = (string | number)[];

/**
 * Runs CHECK and records a UsageError it throws as a problem at PATH (with the file:line:col of PATH
 * when the config came from a file). Validation collects every problem before reporting.
 */
export type CheckAt = (path: ConfigPath, check: () => unknown) => void;

/** Every mode's config has a model stage (the run context opens it) and an output folder. */
export interface ModeConfigBase {
  model: ModelStage;
  seed: { seed: number };
  write: { out: string };
}

/** Options of one run that are not part of the pipeline (they come from the command line). */
export interface ModeRunOptions {
  /** Keep the results already in OUT/manifest.json whose outputs exist, and do only the rest. */
  resume?: boolean;
  /** Aborting stops new work from starting; work in flight finishes and is recorded. */
  signal?: AbortSignal;
  /**
   * Do only shard `index` of `count` of the run's inputs (input i of the whole run, in the order a single run
   * records them, when i mod count = index). Names are planned over the whole run, so a shard's outputs are named
   * exactly as the single run names them. Modes without inputs to split ignore it.
   */
  shard?: { index: number; count: number };
}

/** What a mode hands back: its results, and the manifest fields only it knows. */
export interface ModeOutput {
  /** The config as run, with defaults the mode resolved against the model (default: the validated config). */
  config?: unknown;
  results: unknown[];
  /** Extra top-level manifest fields, e.g. the filters mode's per-layer `layers` summary. */
  extra?: Record<string, unknown>;
}

export interface Mode<C extends ModeConfigBase = ModeConfigBase> {
  readonly name: string;
  readonly description: string;
  /** Stage name -> schema, in execution order. Defaults are written here and nowhere else. */
  readonly stages: Readonly<Record<string, z.ZodObject>>;
  /** The mode's whole config: `z.object(stages).strict()`. */
  readonly schema: z.ZodType<C>;
  /** Checks beyond shapes (names, specs in strings), each at its config path. Pure: before a model loads. */
  check?(config: C, at: CheckAt): void;
  /** Checks against the loaded model (layer names, sizes), before an engine is built. */
  checkModel?(model: LayersModel, config: C): void;
  /** Worker threads the config asks for; undefined lets the engine's plan decide. */
  workers?(config: C): number | undefined;
  run(ctx: RunContext, config: C, options: ModeRunOptions): Promise<ModeOutput>;
  /** One line saying what a finished run did, for a person (the CLI prints it unless --json). */
  summarize(manifest: Manifest, config: C): string;
}

/** A mode from its parts; the schema is the strict object of its stages, so a key of another mode is an error. */
export function defineMode<C extends ModeConfigBase>(mode: Omit<Mode<C>, 'schema'>): Mode<C> {
  // A missing stage is an empty one: its defaults apply (prefault parses {} through the stage's schema).
  const shape = Object.fromEntries(Object.entries(mode.stages).map(([name, stage]) => [name, stage.prefault({})]));
  const schema = z.object(shape).strict() as unknown as z.ZodType<C>;
  return Object.freeze({ ...mode, stages: Object.freeze({ ...mode.stages }), schema });
}
