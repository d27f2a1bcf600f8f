import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { parseShard, pickShard, shardPosition } from '../src/queue/shard.js';
import { captureOutput, tempDir } from './helpers.js';

async function makeInputs(count: number, collisions = false): Promise<string> {
  const dir = tempDir('unet-dream-shard-');
  const write = async (i: number, name: string) => {
    const data = Buffer.alloc(32 * 32);
    for (let p = 0; p < data.length; p++) data[p] = (p * (i + 5) * 31) % 253;
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    await sharp(data, { raw: { width: 32, height: 32, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, name));
  };
  for (let i = 0; i < count; i++) await write(i, `slice-${i}.png`);
  // Names a run must disambiguate over the whole folder: the same base name with another extension, and in a sub-folder.
  if (collisions) {
    await write(20, 'slice-5.tif');
    await write(21, 'sub/slice-0.png');
  }
  writeFileSync(path.join(dir, 'slice-3-bad.png'), 'not an image');
  return dir;
}

function pipelineFile(): string {
  const file = path.join(tempDir(), 'shard.yaml');
  writeFileSync(file, 'seed: { inputs: [unused], seed: 3 }\nascend: { mode: dream, layers: [dconv128], octaves: 1, steps: 2, step: 0.05, jitter: 2 }\n');
  return file;
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
// Outputs only: not the manifest, nor the HTML report (index.html and report/) every run and merge writes.
const outputsOf = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .filter((f) => f.name !== 'manifest.json' && f.name !== 'index.html' && f.name !== 'report')
    .flatMap((f) => (f.isDirectory() ? outputsOf(path.join(dir, f.name)).map((g) => `${f.name}/${g}`) : [f.name]))
    .sort();

describe('shards', () => {
  it('N shards cover every input exactly once, in sizes within one of each other', () => {
    for (const total of [0, 1, 7, 12, 40]) {
      const items = Array.from({ length: total }, (_, i) => i);
      for (const count of [1, 2, 3, 5, 16]) {
        const parts = Array.from({ length: count }, (_, index) => pickShard(items, { index, count }));
        expect(parts.flat().sort((a, b) => a - b)).toEqual(items);
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        // The position map inverts the split.
        for (const i of items) {
          const { shard, position } = shardPosition(i, count);
          expect(parts[shard]![position]).toBe(i);
        }
      }
    }
  });

  it('parses k/N and refuses k >= N, N = 0 and junk with the option named', () => {
    expect(parseShard('0/4')).toEqual({ index: 0, count: 4 });
    expect(parseShard(' 3 / 4 ')).toEqual({ index: 3, count: 4 });
    for (const bad of ['4/4', '1/0', '-1/3', 'a/b', '2']) expect(() => parseShard(bad)).toThrow(/Expected k\/N with 0 <= k < N.* for --shard but received/);
  });

  it('3 shards merged equal one batch run: same results in the same order, same names, byte-identical outputs', async () => {
    const dir = await makeInputs(7, true);
    const pipeline = pipelineFile();
    const root = tempDir();
    const common = ['--pipeline', pipeline, '--concurrency', '1', '--backend', 'wasm'];
    const single = path.join(root, 'single');
    expect((await captureOutput(() => main(['batch', dir, ...common, '--out', single]))).result).toBe(1); // one corrupt input
    const shardDirs = [0, 1, 2].map((k) => path.join(root, `shard-${k}`));
    for (const [k, out] of shardDirs.entries()) {
      const { result } = await captureOutput(() => main(['batch', dir, ...common, '--out', out, '--shard', `${k}/3`]));
      const hasBad = manifestOf(out).results.some((r: { input: string }) => r.input.endsWith('slice-3-bad.png'));
      expect(result).toBe(hasBad ? 1 : 0);
      expect(manifestOf(out).shard).toMatchObject({ index: k, count: 3, total: 10 });
    }
    // Every input in exactly one shard.
    const assigned = shardDirs.flatMap((d) => manifestOf(d).results.map((r: { input: string }) => r.input));
    expect([...assigned].sort()).toEqual(manifestOf(single).results.map((r: { input: string }) => r.input).sort());

    const merged = path.join(root, 'merged');
    // Shards given in any order.
    const { result, stdout } = await captureOutput(() => main(['merge', shardDirs[2]!, shardDirs[0]!, shardDirs[1]!, '--out', merged]));
    expect(result).toBe(1);
    expect(stdout).toContain('merged 3 shards: 9 of 10 inputs dreamed');
    const a = manifestOf(single);
    const b = manifestOf(merged);
    expect(b.results).toEqual(a.results);
    expect({ ...b.config, write: { ...b.config.write, out: null } }).toEqual({ ...a.config, write: { ...a.config.write, out: null } });
    expect(b.model).toEqual(a.model);
    expect(b.seed).toBe(a.seed);
    expect(outputsOf(merged)).toEqual(outputsOf(single));
    expect(outputsOf(single)).toHaveLength(9);
    // The colliding names were told apart over the whole folder, not per shard.
    expect(outputsOf(single)).toEqual(expect.arrayContaining(['slice-5-png.png', 'slice-5-tif.png', 'sub/slice-0.png', 'slice-0.png']));
    for (const f of outputsOf(single)) expect(readFileSync(path.join(merged, f)).equals(readFileSync(path.join(single, f)))).toBe(true);
  });

  it('merge names a missing shard and refuses shards of different runs', async () => {
    const dir = await makeInputs(3);
    const pipeline = pipelineFile();
    const root = tempDir();
    const common = ['--pipeline', pipeline, '--concurrency', '1', '--backend', 'wasm'];
    const s0 = path.join(root, 's0');
    const other = path.join(root, 'other');
    await captureOutput(() => main(['batch', dir, ...common, '--out', s0, '--shard', '0/2']));
    await captureOutput(() => main(['batch', dir, ...common, '--out', other, '--shard', '1/2', '--set', 'ascend.steps=1']));
    let r = await captureOutput(() => main(['merge', s0, '--out', path.join(root, 'm')]));
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('missing shard 1 of 2');
    r = await captureOutput(() => main(['merge', s0, other, '--out', path.join(root, 'm')]));
    expect(r.result).toBe(2);
    expect(r.stderr).toContain(`${other}: shard 1/2 ran a different pipeline or folder than ${s0}`);
  });
});
