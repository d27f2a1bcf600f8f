/**
 * Record, validate, then run: a raw config (from flags or a YAML/JSON file) is checked as a whole
 * against its mode's schema (every stage, every key, every name and spec in a string) before a model
 * loads or a tensor exists. `ascend.mode` picks the schema from the table of modes (src/modes/index.ts),
 * like a discriminated union whose unknown tag lists the valid ones; a key that belongs to another mode
 * is reported with the mode it applies to.
 */
import type { z } from 'zod';
import { UsageError, didYouMean, renameOption } from '../errors.js';
import { DEFAULT_MODE, MODES, MODE_NAMES, getMode } from '../modes/index.js';
import type { CheckAt, ConfigPath, Mode, ModeConfigBase } from '../run/mode.js';

export type { ConfigPath } from '../run/mode.js';

/**
 * Maps a config path to a `file:line:col` prefix when the config came from a file.
 * `key: true` points at the key itself (for unknown keys) rather than its value.
 */
export type Locate = (path: ConfigPath, options?: { key?: boolean }) => string | undefined;

export interface ValidateOptions {
  locate?: Locate;
  /** The command-line flag that set a config path, when the config came from flags (`ascend.octaves` -> `--octaves`). */
  flag?: (path: ConfigPath) => string | undefined;
}

/** Keys that could reach Object.prototype through a config object: refused in files, flags and --set. */
export const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Problems listed in one error before the rest are only counted: a hostile file must not print megabytes. */
export const MAX_PROBLEMS = 20;

/** The first MAX_PROBLEMS lines, then how many more there were. */
function capped(lines: readonly string[]): string {
  if (lines.length <= MAX_PROBLEMS) return lines.join('\n');
  return [...lines.slice(0, MAX_PROBLEMS), `... and ${lines.length - MAX_PROBLEMS} more problems`].join('\n');
}

/** Every unsafe key in the config (own keys only, at any depth), iteratively: a deep document cannot overflow the stack. */
function unsafeKeys(raw: unknown): ConfigPath[] {
  const found: ConfigPath[] = [];
  const stack: { value: unknown; path: ConfigPath }[] = [{ value: raw, path: [] }];
  while (stack.length > 0 && found.length <= MAX_PROBLEMS) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    for (const key of Object.keys(value)) {
      if (UNSAFE_KEYS.has(key)) found.push([...path, key]);
      else stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, Array.isArray(value) ? Number(key) : key] });
    }
  }
  return found;
}

export interface ValidatedPipeline<C extends ModeConfigBase = ModeConfigBase> {
  readonly mode: Mode<C>;
  /** The config with every default of the mode's schema filled in. */
  readonly config: C;
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

/** The modes other than MODE that read KEY: as a stage (no STAGE given) or as a key of STAGE. */
function otherModesWith(mode: Mode, key: string, stage?: string): string[] {
  return MODE_NAMES.filter((name) => {
    if (name === mode.name) return false;
    const stages = MODES[name]!.stages;
    return stage === undefined ? key in stages : key in (stages[stage]?.shape ?? {});
  });
}

function unknownKey(mode: Mode, path: ConfigPath, key: string, where: string | undefined): string {
  const stage = path.length === 0 ? undefined : String(path[0]);
  const known = stage === undefined ? Object.keys(mode.stages) : Object.keys(mode.stages[stage]?.shape ?? {});
  const prefix = where ? `${where}: ` : '';
  const subject = stage === undefined ? `unknown stage "${key}"` : `${[...path, key].join('.')}: unknown key "${key}"`;
  const valid = `valid ${stage === undefined ? 'stages' : 'keys'} for mode ${mode.name}: ${known.join(', ')}`;
  const elsewhere = otherModesWith(mode, key, stage);
  if (elsewhere.length > 0) return `${prefix}${subject}: \`${key}\` applies to mode ${elsewhere.join(', ')} (this pipeline's ascend.mode is ${mode.name}); ${valid}`;
  const hint = didYouMean(key, known);
  return `${prefix}${subject}${hint ? ` (did you mean "${hint}"?)` : ''}; ${valid}`;
}

function formatIssue(issue: z.core.$ZodIssue, mode: Mode, raw: unknown, options: ValidateOptions): string {
  const path = issue.path as ConfigPath;
  if (issue.code === 'unrecognized_keys') {
    // Only the keys that will be shown are located and explained: 40,000 unknown keys cost 20 lookups.
    const shown = issue.keys.slice(0, MAX_PROBLEMS).map((key) => unknownKey(mode, path, key, options.locate?.([...path, key], { key: true })));
    const more = issue.keys.length - shown.length;
    return [...shown, ...(more > 0 ? [`... and ${more} more unknown keys in ${path.length === 0 ? 'the pipeline' : path.join('.')}`] : [])].join('\n');
  }
  const where = options.locate?.(path);
  const label = options.flag?.(path) ?? path.join('.');
  const found = describeValue(valueAt(raw, path));
  const expected =
    issue.code === 'invalid_value'
      ? `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
      : issue.code === 'invalid_type'
        ? issue.expected === 'int' ? 'an integer' : issue.expected
        : issue.message.replace(/^(Invalid input: )?(expected )?/i, '').replace(/^Too (small|big): expected \S+ to (have|be) /, '');
  return `${where ? `${where}: ` : ''}${label}: expected ${expected}, found ${found}`;
}

/** Validates a raw config object (stage name -> options). Throws one UsageError listing every problem. */
export function validatePipeline(raw: unknown, options: ValidateOptions = {}): ValidatedPipeline {
  const { locate } = options;
  const top = locate?.([]);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${top ? `${top}: ` : ''}a pipeline must be a mapping of stage names to their options`);
  }
  const unsafe = unsafeKeys(raw);
  if (unsafe.length > 0) {
    throw new UsageError(
      capped(unsafe.map((p) => {
        const where = locate?.(p, { key: true });
        return `${where ? `${where}: ` : ''}${p.join('.')}: refused key "${String(p.at(-1))}" (it could change every object's prototype)`;
      })),
    );
  }
  const { name: _name, description: _description, ...stages } = raw as Record<string, unknown>;
  void _name, _description;
  const modeName = (stages.ascend as { mode?: unknown } | undefined)?.mode ?? DEFAULT_MODE;
  let mode: Mode;
  try {
    mode = getMode(typeof modeName === 'string' ? modeName : JSON.stringify(modeName));
  } catch (err) {
    const where = locate?.(['ascend', 'mode']);
    throw new UsageError(`${where ? `${where}: ` : ''}ascend.mode: ${(err as Error).message}`);
  }
  const parsed = mode.schema.safeParse(stages);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    // Each issue is formatted only if it can be shown; the count covers the rest.
    const lines: string[] = [];
    let shown = 0;
    for (const issue of issues) {
      if (lines.length >= MAX_PROBLEMS) break;
      lines.push(...formatIssue(issue, mode, stages, options).split('\n'));
      shown++;
    }
    const rest = issues.length - shown;
    throw new UsageError([...lines.slice(0, MAX_PROBLEMS + 1), ...(rest > 0 ? [`... and ${rest} more problems`] : [])].join('\n'));
  }

  const problems: string[] = [];
  const at: CheckAt = (path, check) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      const where = locate?.(path);
      // The option as the user set it: its flag, or its path in the file ("for ascend.filters but received ...").
      const label = options.flag?.(path) ?? path.join('.');
      const renamed = renameOption(err, label);
      problems.push(`${where ? `${where}: ` : ''}${renamed !== err.message ? renamed : `${label}: ${err.message}`}`);
    }
  };
  mode.check?.(parsed.data, at);
  if (problems.length > 0) throw new UsageError(capped(problems));
  return Object.freeze({ mode, config: parsed.data });
}
