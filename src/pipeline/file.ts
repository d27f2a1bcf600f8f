/**
 * Pipeline files (YAML or JSON; JSON is YAML). Keeps the parsed document so validation errors can
 * point at `file:line:col`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LineCounter, isAlias, isMap, isNode, isScalar, parseDocument, visit, type Document } from 'yaml';
import { UsageError } from '../errors.js';
import { UNSAFE_KEYS, type ConfigPath, type Locate } from './validate.js';

/**
 * Aliases a document may expand (yaml's maxAliasCount). A "billion laughs" file needs far more; a
 * pipeline never needs many.
 */
export const MAX_ALIAS_COUNT = 100;

export interface PipelineFile {
  file: string;
  raw: Record<string, unknown>;
  locate: Locate;
}

function locator(file: string, doc: Document, lines: LineCounter): Locate {
  return (path: ConfigPath, options?: { key?: boolean }) => {
    // Walk down as far as the path exists; point at the deepest node found (a key's value, or the
    // mapping that lacks the key).
    for (let depth = path.length; depth >= 0; depth--) {
      const sub = path.slice(0, depth);
      const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true);
      if (isNode(node) && node.range) {
        // For an unknown key, point at the key itself rather than its value.
        let offset = node.range[0];
        if (options?.key && depth > 0 && depth === path.length) {
          const parent = depth === 1 ? doc.contents : doc.getIn(sub.slice(0, -1), true);
          if (isMap(parent)) {
            const pair = parent.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === sub[sub.length - 1]);
            if (pair && isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
          }
        }
        const pos = lines.linePos(offset);
        return `${file}:${pos.line}:${pos.col}`;
      }
    }
    return file;
  };
}

export async function readPipelineFile(file: string): Promise<PipelineFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such pipeline file' : code === 'EISDIR' ? 'is a directory, expected a .yaml or .json pipeline file' : (err as Error).message}`);
  }
  const lines = new LineCounter();
  // uniqueKeys: false: yaml's check is quadratic; firstDuplicateKey does it in linear time.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new UsageError(`${file}:${pos.line}:${pos.col}: not valid YAML/JSON: ${e.message.split('\n')[0]}`);
  }
  const duplicate = firstDuplicateKey(doc);
  if (duplicate) {
    const pos = lines.linePos(duplicate.offset);
    throw new UsageError(`${file}:${pos.line}:${pos.col}: not valid YAML/JSON: duplicate key "${duplicate.key}"`);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount: a resource bomb, not a bug.
    if (!(err instanceof ReferenceError)) throw err;
    throw new UsageError(`${firstAliasAt(file, doc, lines)}: refused: its aliases expand to more than ${MAX_ALIAS_COUNT} copies (an alias bomb?)`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${file}:1:1: a pipeline must be a mapping of stage names to options`);
  }
  const locate = locator(file, doc, lines);
  return { file, raw: resolvePaths(raw as Record<string, unknown>, path.dirname(file)), locate };
}

/**
 * yaml's own unique-key check compares each key with every earlier one (40,000 keys took seconds per
 * thousand); this one is linear, one Set per mapping.
 */
function firstDuplicateKey(doc: Document): { key: string; offset: number } | undefined {
  let found: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          found = { key: String(key), offset: isNode(pair.key) && pair.key.range ? pair.key.range[0] : 0 };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return found;
}

/** file:line:col of the document's first alias (where an expansion starts). */
function firstAliasAt(file: string, doc: Document, lines: LineCounter): string {
  let offset: number | undefined;
  visit(doc, {
    Alias(_, node) {
      if (isAlias(node) && node.range) offset = node.range[0];
      return visit.BREAK;
    },
  });
  if (offset === undefined) return file;
  const pos = lines.linePos(offset);
  return `${file}:${pos.line}:${pos.col}`;
}

/**
 * A pipeline file's relative paths name files next to it, wherever it is run from: they are resolved
 * against the file's folder (and kept relative to the working directory, so manifests stay short).
 * Inputs only: `write.out` stays relative to the working directory, so a pipeline shipped inside an
 * installed package never writes into the package's folder. Values given with --set or flags are not
 * touched (they are applied after this, relative to the working directory).
 */
export function resolvePaths(raw: Record<string, unknown>, dir: string): Record<string, unknown> {
  if (dir === '.' || dir === '') return raw;
  const at = (p: string) => (path.isAbsolute(p) ? p : path.relative(process.cwd(), path.resolve(dir, p)) || '.');
  const copy = { ...raw };
  const stage = (name: string) => {
    const value = copy[name];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return (copy[name] = { ...(value as Record<string, unknown>) }) as Record<string, unknown>;
  };
  const model = stage('model');
  if (model) {
    if (typeof model.source === 'string' && model.source !== 'builtin') model.source = at(model.source);
    if (typeof model.architecture === 'string') model.architecture = at(model.architecture);
  }
  const seed = stage('seed');
  if (seed) {
    if (Array.isArray(seed.inputs)) seed.inputs = seed.inputs.map((s: unknown) => (typeof s === 'string' && s !== '' ? at(s) : s));
    // `init: image:PATH` and `aliased:PATH` (but not `aliased:phantom`) name files.
    if (typeof seed.init === 'string') {
      const m = /^(image|aliased):(.+)$/.exec(seed.init);
      if (m && !(m[1] === 'aliased' && m[2] === 'phantom')) seed.init = `${m[1]}:${at(m[2]!)}`;
    }
  }
  return copy;
}

/** A --set key or a pipeline key that could reach Object.prototype: refused wherever it appears. */
function refuseUnsafeKey(key: string, where: string): void {
  if (UNSAFE_KEYS.has(key)) throw new UsageError(`${where}: refused key "${key}" (it could change every object's prototype)`);
}

/** Applies `--set stage.key=value` overrides; values are parsed as YAML scalars (numbers, booleans, lists). */
export function applyOverrides(raw: Record<string, unknown>, sets: readonly string[]): Record<string, unknown> {
  const copy = structuredClone(raw);
  for (const assignment of sets) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects stage.key=value, received ${JSON.stringify(assignment)}`);
    const keys = assignment.slice(0, eq).split('.');
    for (const key of keys) refuseUnsafeKey(key, `--set ${assignment}`);
    let value: unknown;
    try {
      value = parseDocument(assignment.slice(eq + 1)).toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
    } catch (err) {
      if (!(err instanceof ReferenceError)) throw err;
      throw new UsageError(`--set ${assignment.slice(0, eq)}: refused: its aliases expand to more than ${MAX_ALIAS_COUNT} copies`);
    }
    let cur: Record<string, unknown> = copy;
    for (const key of keys.slice(0, -1)) {
      if (!Object.hasOwn(cur, key) || cur[key] === undefined || cur[key] === null) cur[key] = {};
      if (typeof cur[key] !== 'object' || Array.isArray(cur[key])) throw new UsageError(`--set ${assignment}: ${key} is not a mapping`);
      cur = cur[key] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1]!] = value;
  }
  return copy;
}
