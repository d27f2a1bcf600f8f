/**
 * The output folder of a run, guarded so results never mix:
 * - a lock (OUT/.unet-dream.lock, holding the pid) lets one run at a time write into a folder; a lock left by a
 *   process that no longer exists (killed) is taken over;
 * - a folder holding another run's manifest.json is refused unless the run resumes it (with the same settings)
 *   or overwrites it (removing the files that manifest names, and the manifest, nothing else);
 * - a folder the run created is removed again when the run fails before writing anything into it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OutputError, UsageError } from '../errors.js';
import { writeFailure } from '../io/atomic.js';
import { readManifest, type Manifest } from './manifest.js';

export const LOCK_FILE = '.unet-dream.lock';

/** What to do with a folder that holds another run's manifest. */
export interface OutPolicy {
  /** Continue that run: allowed only with the same settings. */
  resume?: boolean;
  /** Remove that run's outputs (only the files its manifest names) and its manifest, then run. */
  overwrite?: boolean;
}

/** Settings that do not change what a run writes, so a resumed run may differ in them. */
const RESUMABLE_DIFFERENCES = new Set(['model.threads']);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes OUT's lock (OUT must exist); resolves to the function that releases it. A second run into OUT while the
 * first holds the lock gets a UsageError naming the holder's pid.
 */
export async function lockOutFolder(out: string): Promise<() => Promise<void>> {
  const file = path.join(out, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        // Only our own lock is removed (a lock taken over as stale by another run is theirs now).
        const holder = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
        if (holder === process.pid) await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new OutputError(file, writeFailure(err));
    }
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // released meanwhile: try again
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new UsageError(`${out} is in use by another unet-dream run (pid ${pid}); wait for it to finish or choose another --out`);
    }
    // Stale (its process is gone, or the file is not a lock we wrote): move it aside, so of two runs taking it
    // over at once only one succeeds, then try again.
    const aside = `${file}.${process.pid}.stale`;
    await fs.rename(file, aside).catch(() => undefined);
    await fs.rm(aside, { force: true });
  }
  throw new UsageError(`${out}: could not take the lock ${LOCK_FILE} (another run keeps taking it)`);
}

/** Config paths ('ascend.steps') whose values differ between two configs, with both values. */
export function configDifferences(before: unknown, after: unknown, prefix = ''): { key: string; before: unknown; after: unknown }[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => configDifferences(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  if (JSON.stringify(before) === JSON.stringify(after) || RESUMABLE_DIFFERENCES.has(prefix)) return [];
  return [{ key: prefix, before, after }];
}

const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));

/** The files a manifest names as outputs, resolved inside OUT (a name leading outside it is ignored). */
function namedOutputs(out: string, manifest: Manifest): string[] {
  const root = path.resolve(out);
  const files: string[] = [];
  for (const r of manifest.results as { outputs?: unknown }[]) {
    if (!Array.isArray(r?.outputs)) continue;
    for (const f of r.outputs) {
      if (typeof f !== 'string') continue;
      const abs = path.resolve(root, f);
      if (abs.startsWith(root + path.sep)) files.push(abs);
    }
  }
  return files;
}

/**
 * Applies POLICY to a folder that may hold another run's manifest (call it with the lock held). CONFIG is this
 * run's validated config, compared with the manifest's for a resume.
 */
export async function guardOutFolder(out: string, config: unknown, policy: OutPolicy): Promise<void> {
  let previous: Manifest | undefined;
  try {
    previous = await readManifest(out);
  } catch {
    throw new UsageError(`${out} holds a manifest.json that cannot be read; remove it or choose another --out`);
  }
  if (!previous) return;
  if (policy.resume) {
    const diffs = configDifferences(previous.config, config);
    if (diffs.length > 0) {
      throw new UsageError(
        `--resume: ${out} was run with different settings: ${diffs.map((d) => `${d.key} ${show(d.before)} (now ${show(d.after)})`).join(', ')}; resume with the same settings, use --overwrite to start again, or choose another --out`,
      );
    }
    return;
  }
  if (policy.overwrite) {
    for (const file of namedOutputs(out, previous)) await fs.rm(file, { force: true });
    await fs.rm(path.join(out, 'manifest.json'), { force: true });
    return;
  }
  throw new UsageError(`${out} holds the results of another run (manifest.json); use --resume to continue it, --overwrite to replace it, or choose another --out`);
}

/** Removes OUT if this run created it and it holds nothing (a run that failed before writing anything). */
export async function removeIfEmpty(out: string): Promise<void> {
  const entries = await fs.readdir(out).catch(() => undefined);
  if (entries && entries.length === 0) await fs.rmdir(out).catch(() => undefined);
}
