/**
 * Pipeline files (YAML or JSON; JSON is YAML). Keeps the parsed document so validation errors can
 * point at `file:line:col`.
 */
import { promises as fs } from 'node:fs';
import { LineCounter, isMap, isNode, parseDocument, type Document } from 'yaml';
import { UsageError } from '../errors.js';
import type { ConfigPath, Locate } from './validate.js';

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
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new UsageError(`${file}:${pos.line}:${pos.col}: not valid YAML/JSON: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${file}:1:1: a pipeline must be a mapping of stage names to options`);
  }
  return { file, raw: raw as Record<string, unknown>, locate: locator(file, doc, lines) };
}

/** Applies `--set stage.key=value` overrides; values are parsed as YAML scalars (numbers, booleans, lists). */
export function applyOverrides(raw: Record<string, unknown>, sets: readonly string[]): Record<string, unknown> {
  const copy = structuredClone(raw);
  for (const assignment of sets) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects stage.key=value, received ${JSON.stringify(assignment)}`);
    const keys = assignment.slice(0, eq).split('.');
    const value = parseDocument(assignment.slice(eq + 1)).toJS() as unknown;
    let cur: Record<string, unknown> = copy;
    for (const key of keys.slice(0, -1)) {
      if (cur[key] === undefined || cur[key] === null) cur[key] = {};
      if (typeof cur[key] !== 'object' || Array.isArray(cur[key])) throw new UsageError(`--set ${assignment}: ${key} is not a mapping`);
      cur = cur[key] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1]!] = value;
  }
  return copy;
}
