/**
 * Finding input files in a folder: stable (natural, locale-independent) order, hidden files and folders skipped,
 * symbolic links followed but each real directory and file visited once, so link loops end.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, invalidParameterError } from '../errors.js';
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
  /**
   * Files and folders never returned or entered, e.g. the run's output folder when it lies inside an input folder
   * (compared by real path, so another spelling or a link to them is excluded too).
   */
  exclude?: readonly string[];
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

/** Brace expansion multiplies patterns ({a,b}{c,d}... doubles each time): refuse more than this many. */
const MAX_PATTERNS = 1024;

/** Expand `{a,b}` alternatives (nested allowed). */
function expandBraces(pattern: string, budget = { left: MAX_PATTERNS }): string[] {
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
      budget.left -= parts.length - 1;
      if (budget.left < 0) throw invalidParameterError('include', `a pattern with at most ${MAX_PATTERNS} {a,b} alternatives in all`, pattern);
      return parts.flatMap((p) => expandBraces(head + p + tail, budget));
    }
  }
  return [pattern]; // unbalanced: literal
}

/** One step of a compiled glob. */
type Token = { kind: 'char'; ch: string } | { kind: 'any' } | { kind: 'star' } | { kind: 'globstar' } | { kind: 'dirs' };

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          tokens.push({ kind: 'dirs' }); // '**/': zero or more whole folders
        } else tokens.push({ kind: 'globstar' }); // '**': anything, '/' included
      } else if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' }); // '**' runs collapse
    } else if (ch === '?') tokens.push({ kind: 'any' });
    else tokens.push({ kind: 'char', ch: ch.toLowerCase() });
  }
  return tokens;
}

/**
 * A glob matcher that runs in O(pattern x text) time whatever the pattern: it tracks the set of pattern positions
 * reachable after each character (a Thompson simulation), so it never backtracks, unlike a regular expression
 * built from `*`s, which a crafted `--include` can make take minutes.
 */
function globMatcher(pattern: string): (text: string) => boolean {
  const tokens = tokenize(pattern);
  const n = tokens.length;
  // The positions reachable from STATES without reading a character: a star, globstar or dirs may match nothing.
  const close = (states: Uint8Array) => {
    for (let i = 0; i < n; i++) if (states[i] && tokens[i]!.kind !== 'char' && tokens[i]!.kind !== 'any') states[i + 1] = 1;
    return states;
  };
  return (text: string) => {
    let states = close(Object.assign(new Uint8Array(n + 1), { 0: 1 }));
    // For 'dirs': whether the text since entering it ends at a folder boundary is tracked with a second flag.
    let inDirs = new Uint8Array(n + 1);
    for (const raw of text.toLowerCase()) {
      const next = new Uint8Array(n + 1);
      const nextDirs = new Uint8Array(n + 1);
      for (let i = 0; i < n; i++) {
        if (!states[i] && !inDirs[i]) continue;
        const t = tokens[i]!;
        if (states[i]) {
          if (t.kind === 'char' && t.ch === raw) next[i + 1] = 1;
          else if (t.kind === 'any' && raw !== '/') next[i + 1] = 1;
          else if (t.kind === 'star' && raw !== '/') next[i] = 1;
          else if (t.kind === 'globstar') next[i] = 1;
        }
        if (t.kind === 'dirs' && (states[i] || inDirs[i])) {
          // Inside '**/': any characters, and each '/' ends a whole folder, after which the rest may start.
          if (raw === '/') {
            nextDirs[i] = 1;
            next[i + 1] = 1;
          } else nextDirs[i] = 1;
        }
      }
      states = close(next);
      inDirs = nextDirs;
    }
    return states[n] === 1;
  };
}

/** A predicate for relative paths ('/'-separated) from include patterns. */
export function compileInclude(include: string | string[] | undefined): (relative: string) => boolean {
  if (include === undefined) return () => true;
  const budget = { left: MAX_PATTERNS };
  const patterns = (Array.isArray(include) ? include : [include]).flatMap((p) => expandBraces(p, budget));
  const matchers = patterns.map((p) => {
    const match = globMatcher(p.replace(/^\.\//, ''));
    return p.includes('/') ? match : (rel: string) => match(rel.slice(rel.lastIndexOf('/') + 1));
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
  // Excluded paths by real path; one that does not exist yet (an output folder still to be made) by its resolved path.
  const excluded = new Set<string>();
  for (const e of options.exclude ?? []) {
    excluded.add(path.resolve(e));
    const real = await fs.realpath(e).catch(() => undefined);
    if (real) excluded.add(real);
  }
  const out: string[] = [];

  const visit = async (abs: string, rel: string): Promise<void> => {
    const real = await fs.realpath(abs).catch(() => undefined);
    if (!real || seenDirs.has(real)) return; // a loop or a second path to a folder already walked
    if (excluded.has(real) || excluded.has(path.resolve(abs))) return;
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
        if (seenFiles.has(realFile) || excluded.has(realFile) || excluded.has(path.resolve(childAbs))) continue;
        seenFiles.add(realFile);
        out.push(path.join(dir, ...childRel.split('/')));
      }
    }
  };
  await visit(dir, '');
  return out;
}
