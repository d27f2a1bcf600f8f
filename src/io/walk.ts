/**
 * Finding input files in a folder: stable (natural, locale-independent) order, hidden files and folders skipped,
 * symbolic links followed but each real directory and file visited once, so link loops end.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { toInputError } from './read.js';

export interface WalkOptions {
  /**
   * Glob-ish patterns a file must match (any of them): `*` and `?` within a name, `**` across folders, `{a,b}`
   * alternatives, case-insensitive. A pattern without '/' is matched against the file name, one with '/' against
   * the path relative to the folder. Default: every file.
   */
  include?: string | string[];
  /** Descend into sub-folders (default true). */
  recursive?: boolean;
  /** Include names starting with '.' (default false). */
  hidden?: boolean;
}

/** Natural order: digit runs compare as numbers ('slice2' < 'slice10'), the rest by code unit; ties by code unit. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny ? -1 : 1;
      if (x.length !== y.length) return x.length - y.length; // '01' after '1'
      continue;
    }
    const lx = x.toLowerCase();
    const ly = y.toLowerCase();
    if (lx !== ly) return lx < ly ? -1 : 1;
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Expand `{a,b}` alternatives (nested allowed). */
function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  for (let i = open; i < pattern.length; i++) {
    if (pattern[i] === '{') depth++;
    else if (pattern[i] === '}' && --depth === 0) {
      const inner = pattern.slice(open + 1, i);
      const parts: string[] = [];
      let level = 0;
      let start = 0;
      for (let j = 0; j < inner.length; j++) {
        if (inner[j] === '{') level++;
        else if (inner[j] === '}') level--;
        else if (inner[j] === ',' && level === 0) {
          parts.push(inner.slice(start, j));
          start = j + 1;
        }
      }
      parts.push(inner.slice(start));
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      return parts.flatMap((p) => expandBraces(head + p + tail));
    }
  }
  return [pattern]; // unbalanced: literal
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/** A predicate for relative paths ('/'-separated) from include patterns. */
export function compileInclude(include: string | string[] | undefined): (relative: string) => boolean {
  if (include === undefined) return () => true;
  const patterns = (Array.isArray(include) ? include : [include]).flatMap(expandBraces);
  const matchers = patterns.map((p) => {
    const re = globToRegExp(p.replace(/^\.\//, ''));
    return p.includes('/') ? (rel: string) => re.test(rel) : (rel: string) => re.test(rel.slice(rel.lastIndexOf('/') + 1));
  });
  return (rel) => matchers.some((m) => m(rel));
}

/**
 * Files under DIR that match, in stable order: each folder's entries sorted naturally, sub-folders visited where
 * they sort. Paths are DIR joined with the relative path. A file given as DIR is returned alone.
 */
export async function walkInputs(dir: string, options: WalkOptions = {}): Promise<string[]> {
  const recursive = options.recursive ?? true;
  const hidden = options.hidden ?? false;
  const matches = compileInclude(options.include);
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (err) {
    throw toInputError(dir, err);
  }
  if (!stat.isDirectory()) {
    if (stat.isFile()) return [dir];
    throw new InputError(dir, 'not a file or directory');
  }
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const out: string[] = [];

  const visit = async (abs: string, rel: string): Promise<void> => {
    const real = await fs.realpath(abs).catch(() => undefined);
    if (!real || seenDirs.has(real)) return; // a loop or a second path to a folder already walked
    seenDirs.add(real);
    let entries: string[];
    try {
      entries = await fs.readdir(abs);
    } catch (err) {
      if (rel === '') throw toInputError(dir, err);
      return; // an unreadable sub-folder is skipped
    }
    entries.sort(naturalCompare);
    for (const name of entries) {
      if (!hidden && name.startsWith('.')) continue;
      const childAbs = path.join(abs, name);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.stat(childAbs).catch(() => undefined); // follows links; a broken link is skipped
      if (!st) continue;
      if (st.isDirectory()) {
        if (recursive) await visit(childAbs, childRel);
      } else if (st.isFile() && matches(childRel)) {
        const realFile = await fs.realpath(childAbs).catch(() => childAbs);
        if (seenFiles.has(realFile)) continue;
        seenFiles.add(realFile);
        out.push(path.join(dir, ...childRel.split('/')));
      }
    }
  };
  await visit(dir, '');
  return out;
}
