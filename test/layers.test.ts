/**
 * The import graph against the layer order in docs/ARCHITECTURE.md: a module imports only from its own
 * room or from rooms on lower floors, rooms on one floor do not import each other, and every room of
 * src/ has a floor (a new folder must be placed before it can be used).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'src');

/** Floors, lowest first; each lists its rooms (a folder, or a file at the top of src/ without `.ts`). */
const FLOORS: readonly (readonly string[])[] = [
  ['errors'],
  ['tf', 'events', 'random'],
  ['mri', 'render', 'io'],
  ['model', 'report'],
  ['engine'],
  ['ascent'],
  ['activations'],
  ['attribution', 'examples', 'run', 'train'],
  ['dissect'],
  ['ablate'],
  ['prune'],
  ['modes'],
  ['pipeline', 'queue'],
  ['cli', 'index'],
];

const floorOf = new Map(FLOORS.flatMap((rooms, floor) => rooms.map((room) => [room, floor] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The room of a path under src/: its top folder, or its file name without extension. */
function roomOf(file: string): string {
  const [top, ...rest] = path.relative(SRC, file).split(path.sep);
  return rest.length > 0 ? top! : top!.replace(/\.(ts|js)$/, '');
}

/** Relative imports of a module: static, re-exports and dynamic `import('...')`. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => path.resolve(path.dirname(file), m[1]!));
}

describe('layers', () => {
  const files = sources(SRC);

  it('every room of src/ has a floor', () => {
    const rooms = [...new Set(files.map(roomOf))].sort();
    expect(rooms.filter((r) => !floorOf.has(r))).toEqual([]);
  });

  it('no import runs from a lower floor up, or sideways between rooms of one floor', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = roomOf(file);
      for (const target of importsOf(file)) {
        const to = roomOf(target);
        if (to === from) continue;
        const [a, b] = [floorOf.get(from)!, floorOf.get(to)!];
        if (b >= a) violations.push(`${path.relative(SRC, file)} (${from}, floor ${a}) imports ${path.relative(SRC, target)} (${to}, floor ${b})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the check sees imports: the CLI reaches the pipeline and the queue, the queue the modes, the engine reaches tf, errors.ts imports nothing', () => {
    const edges = files.flatMap((f) => importsOf(f).map((t) => [roomOf(f), roomOf(t)] as const));
    expect(edges.some(([a, b]) => a === 'cli' && b === 'pipeline')).toBe(true);
    expect(edges.some(([a, b]) => a === 'cli' && b === 'queue')).toBe(true);
    expect(edges.some(([a, b]) => a === 'queue' && b === 'modes')).toBe(true);
    expect(edges.some(([a, b]) => a === 'engine' && b === 'tf')).toBe(true);
    expect(edges.filter(([a]) => a === 'errors')).toEqual([]);
  });
});
