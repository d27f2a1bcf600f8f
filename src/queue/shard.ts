/**
 * `batch DIR --shard k/N`: N array-job tasks split one folder between them. The split is round-robin
 * over the inputs in the order a single run records them (input i goes to shard i mod N), so it is
 * deterministic, covers every input exactly once, and keeps shards within one input of each other in
 * size. Shards are numbered from 0, like `#SBATCH --array=0-(N-1)` and Kubernetes' job completion index.
 */
import { invalidParameterError } from '../errors.js';
import { inputOrder, type DreamConfig } from './run-one.js';

export interface Shard {
  index: number;
  count: number;
}

/** What a shard's manifest records so `merge` can rebuild the single run's manifest. */
export interface ShardRecord extends Shard {
  /** The run's inputs as the user gave them (the single run's `config.seed.inputs`). */
  inputs: string[];
  /** How many inputs the whole run has. */
  total: number;
  /** This shard's inputs, in run order. */
  assigned: string[];
}

export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index >= count) throw invalidParameterError('--shard', 'k/N with 0 <= k < N, e.g. 0/10 (SLURM: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-9)', text);
  return { index, count };
}

/** The items of shard k of N: positions k, k+N, k+2N, ... */
export function pickShard<T>(items: readonly T[], shard: Shard): T[] {
  return items.filter((_, i) => i % shard.count === shard.index);
}

/** Where the i-th input of the whole run lives: which shard, and its position within that shard. */
export function shardPosition(i: number, count: number): { shard: number; position: number } {
  return { shard: i % count, position: Math.floor(i / count) };
}

/** Shard k of a dream config's inputs, and what its manifest must record for `merge`. */
export async function planShard(config: Pick<DreamConfig, 'seed' | 'write'>, shard: Shard): Promise<ShardRecord> {
  const order = await inputOrder(config);
  return { ...shard, inputs: [...config.seed.inputs], total: order.length, assigned: pickShard(order, shard).map((o) => o.text) };
}
