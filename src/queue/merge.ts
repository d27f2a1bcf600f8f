/**
 * `unet-dream merge OUT1 OUT2 ... --out OUT`: the manifests of `batch --shard k/N` tasks become the
 * manifest a single `batch` of the same folder writes (results in the single run's input order, the
 * single run's config), and every output is copied into OUT atomically. Copies, not moves: the shard
 * folders stay valid, so a merge can be rerun (after a shard is rerun with --resume, say).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';
import type { EventSink } from '../events.js';
import { buildReport } from '../report/build.js';
import { writeManifest, type Manifest } from '../run/manifest.js';
import { shardPosition, type ShardRecord } from './shard.js';
import type { DreamConfig, DreamRecord } from './run-one.js';

export interface ShardManifest extends Omit<Manifest, 'model' | 'engine'> {
  config: DreamConfig;
  model: Manifest['model'] | null;
  engine: Manifest['engine'] | null;
  results: DreamRecord[];
  shard: ShardRecord;
}

export interface MergedManifest extends Manifest {
  config: DreamConfig;
  results: DreamRecord[];
  merged: { shards: number; from: string[] };
}

async function readShard(dir: string): Promise<ShardManifest> {
  const file = path.join(dir, 'manifest.json');
  let parsed: ShardManifest;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8')) as ShardManifest;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no manifest (has this shard run?)' : `not readable JSON (${code ?? (err as Error).message})`}`);
  }
  if (!parsed.shard || !Number.isInteger(parsed.shard.index) || !Array.isArray(parsed.shard.assigned)) {
    throw new UsageError(`${file}: not a shard's manifest (written by batch DIR --shard k/N)`);
  }
  return parsed;
}

/** A config with the fields that legitimately differ between shards (their inputs, their folder) blanked. */
function sharedConfig(config: DreamConfig): string {
  return JSON.stringify({ ...config, seed: { ...config.seed, inputs: null }, write: { ...config.write, out: null } });
}

export async function mergeShards(dirs: string[], out: string, options: { command: string; onEvent?: EventSink }): Promise<MergedManifest> {
  const emit = options.onEvent ?? (() => undefined);
  if (dirs.length === 0) throw new UsageError('merge needs the output folders of the shards: merge OUT1 OUT2 ... --out OUT');
  const shards = await Promise.all(dirs.map(readShard));
  const count = shards[0]!.shard.count;
  const byIndex = new Map<number, number>();
  for (const [i, s] of shards.entries()) {
    if (s.shard.count !== count) throw new UsageError(`${dirs[i]}: shard ${s.shard.index}/${s.shard.count} is from a split into ${s.shard.count}, ${dirs[0]} from a split into ${count}`);
    if (byIndex.has(s.shard.index)) throw new UsageError(`shard ${s.shard.index}/${count} given twice: ${dirs[byIndex.get(s.shard.index)!]} and ${dirs[i]}`);
    byIndex.set(s.shard.index, i);
    if (sharedConfig(s.config) !== sharedConfig(shards[0]!.config) || JSON.stringify(s.shard.inputs) !== JSON.stringify(shards[0]!.shard.inputs) || s.shard.total !== shards[0]!.shard.total) {
      throw new UsageError(`${dirs[i]}: shard ${s.shard.index}/${count} ran a different pipeline or folder than ${dirs[0]}; shards must share config, inputs and seed`);
    }
  }
  const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !byIndex.has(k));
  if (missing.length > 0) throw new UsageError(`missing shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${count}: give every shard's output folder`);
  const withModel = shards.filter((s) => s.model);
  const first = withModel[0] ?? shards[0]!;
  for (const s of withModel) {
    if (s.model!.sha256 !== first.model!.sha256) throw new UsageError(`shards used different models (sha256 ${first.model!.sha256.slice(0, 12)} and ${s.model!.sha256.slice(0, 12)}): outputs would not match one run`);
    const a = first.engine!;
    const b = s.engine!;
    if (a.engine !== b.engine || a.backend !== b.backend) emit({ type: 'warn', message: `shards ran on different engines (${a.engine}/${a.backend} and ${b.engine}/${b.backend}): values may differ in the last bits from one run` });
  }

  // Results in the single run's order: input i of the run is input i div N of shard i mod N.
  const { total } = first.shard;
  const results: DreamRecord[] = [];
  const sources = new Map<string, string>();
  for (let i = 0; i < total; i++) {
    const { shard, position } = shardPosition(i, count);
    const s = shards[byIndex.get(shard)!]!;
    const text = s.shard.assigned[position];
    const record = s.results.find((r) => r.input === text);
    if (text === undefined || !record) {
      throw new UsageError(`${dirs[byIndex.get(shard)!]}: shard ${shard}/${count} has no result for ${text ?? `input ${i}`}; rerun that task (with --resume) and merge again`);
    }
    for (const f of record.outputs ?? []) {
      if (sources.has(f)) throw new UsageError(`two inputs wrote ${f} (${sources.get(f)} and ${dirs[byIndex.get(shard)!]}): rename one input`);
      sources.set(f, path.join(dirs[byIndex.get(shard)!]!, f));
    }
    results.push(record);
  }

  await ensureWritableDir(out);
  for (const [f, source] of sources) {
    const target = path.join(out, f);
    if (path.resolve(source) === path.resolve(target)) continue;
    const bytes = await fs.readFile(source).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`${source}: output listed in its shard's manifest is missing (${err.code ?? err.message}); rerun that shard with --resume`);
    });
    await fs.mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, bytes);
  }

  const manifest: MergedManifest = {
    command: options.command,
    config: { ...first.config, seed: { ...first.config.seed, inputs: first.shard.inputs }, write: { ...first.config.write, out } },
    model: first.model!,
    engine: first.engine!,
    versions: first.versions,
    seed: first.seed,
    startedAt: shards.map((s) => s.startedAt).sort()[0]!,
    // Compute time summed over the shards; they may have run at once.
    wallTimeMs: shards.reduce((sum, s) => sum + s.wallTimeMs, 0),
    results,
    merged: { shards: count, from: dirs },
  };
  await writeManifest(out, manifest);
  // The merged folder gets the report a single run writes (its previews are made from the merged outputs).
  await buildReport(out);
  return manifest;
}
