/**
 * The dream mode: DeepDream over a list of inputs (photos, DICOM, NIfTI, folders of them). Every input
 * is one job (see job.ts); an input that fails is recorded with its reason while the others complete.
 * The manifest is rewritten after every input, so a killed batch resumes (`resume`) where it stopped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { validateDreamOptions } from '../../ascent/dream.js';
import { buildObjective, parseObjectiveTerms } from '../../ascent/objective-spec.js';
import { UsageError } from '../../errors.js';
import { discoveredInput, parseInputSpec, type InputSpec } from '../../io/input-spec.js';
import { walkInputs } from '../../io/walk.js';
import { jobModule, runJobs } from '../../run/jobs.js';
import { readManifest } from '../../run/manifest.js';
import { defineMode } from '../../run/mode.js';
import * as job from './job.js';
import { planStems, type PlannedInput } from './names.js';
import { dreamStages, type DreamConfig } from './schema.js';

/**
 * Files and folders to jobs. A `#` selects a slice only in what the user typed, and only when no file has that
 * whole name; files found in a folder are taken by their names as they are. The output folder is never walked,
 * so a run never reads its own outputs or manifest. Exported for src/queue (shards and queue jobs split this
 * order and these names), so a distributed run sees the inputs and names of a local one.
 */
export async function expandInputs(inputs: string[], include: string | undefined, out: string): Promise<{ planned: PlannedInput[]; failures: job.DreamRecord[]; empty: string[] }> {
  const planned: PlannedInput[] = [];
  const failures: job.DreamRecord[] = [];
  const empty: string[] = [];
  for (const text of inputs) {
    const whole = await fs.stat(text).catch(() => undefined);
    const spec = whole ? discoveredInput(text) : parseInputSpec(text);
    const stat = whole ?? (await fs.stat(spec.path).catch(() => undefined));
    if (!stat) failures.push({ input: text, error: `${text}: no such file or directory` });
    else if (stat.isDirectory()) {
      if (spec.read.slice !== undefined) throw new UsageError(`${text}: a slice selector applies to a file, and ${spec.path} is a folder`);
      if (path.resolve(spec.path) === path.resolve(out)) throw new UsageError(`${text}: the output folder cannot be an input folder (outputs would be read as inputs); choose another --out`);
      const files = await walkInputs(spec.path, { include, exclude: [out] });
      if (files.length === 0) empty.push(text);
      for (const f of files) planned.push({ spec: discoveredInput(f), root: spec.path });
    } else planned.push({ spec });
  }
  return { planned, failures, empty };
}

/** The results already in OUT/manifest.json whose outputs all exist. */
async function previousRecords(out: string): Promise<Map<string, job.DreamRecord>> {
  const kept = new Map<string, job.DreamRecord>();
  const manifest = await readManifest(out);
  for (const r of (manifest?.results ?? []) as job.DreamRecord[]) {
    if (r.error || !r.outputs?.length) continue;
    const complete = await Promise.all(r.outputs.map((f) => fs.stat(path.join(out, f)).then(() => true, () => false)));
    if (complete.every(Boolean)) kept.set(r.input, r);
  }
  return kept;
}

/** Output files named by more than one record: never expected (names are planned unique), counted if it happens. */
function sharedOutputs(records: readonly job.DreamRecord[]): string[] {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const r of records) for (const f of r.outputs ?? []) (seen.has(f.toLowerCase()) ? shared : seen).add(f.toLowerCase());
  return [...shared];
}

export const dreamMode = defineMode<DreamConfig>({
  name: 'dream',
  description: 'DeepDream on photos and MR slices, written back in their own format and units',
  stages: dreamStages,
  check(config, at) {
    at(['ascend', 'layers'], () => parseObjectiveTerms(job.layersText(config)));
    at(['seed', 'window'], () => {
      if (!(config.seed.window[0] < config.seed.window[1])) throw new UsageError(`expected LOW < HIGH percentiles, found [${config.seed.window.join(', ')}]`);
    });
  },
  checkModel(model, config) {
    buildObjective(model, parseObjectiveTerms(job.layersText(config)), config.ascend.objective);
  },
  async run(ctx, config, options) {
    const { out } = config.write;
    validateDreamOptions({ ...config.ascend, halo: config.ascend.halo ?? 0, normalize: 'rms', divisor: ctx.divisor, seed: config.seed.seed, objective: { kind: 'layers', terms: [] } });
    const { planned, failures, empty } = await expandInputs(config.seed.inputs, config.seed.include, out);
    if (planned.length === 0 && failures.length === 0) throw new UsageError(`no inputs found in ${empty.join(', ')}${config.seed.include ? ` (matching ${config.seed.include})` : ''}`);
    for (const dir of empty) ctx.emit({ type: 'warn', message: `no inputs found in ${dir}` });
    // Names over the whole run; then a shard keeps its share (the order inputOrder gives: failures first).
    const stems = planStems(planned);
    const inShard = (i: number) => !options.shard || i % options.shard.count === options.shard.index;
    const jobs: job.DreamJob[] = planned.map((p, i) => ({ spec: p.spec, stem: stems[i]! })).filter((_, i) => inShard(failures.length + i));
    failures.splice(0, failures.length, ...failures.filter((_, i) => inShard(i)));
    const previous = options.resume ? await previousRecords(out) : new Map<string, job.DreamRecord>();
    if (previous.size > 0) ctx.emit({ type: 'info', message: `resuming: ${previous.size} input${previous.size === 1 ? '' : 's'} already done` });

    // Records by input, in input order; the manifest is rewritten (atomically) after every one.
    const records = new Map<string, job.DreamRecord>();
    for (const f of failures) {
      records.set(f.input, f);
      ctx.emit({ type: 'warn', message: f.error! });
    }
    const todo = jobs.filter((j) => {
      const done = previous.get(j.spec.text);
      if (done) records.set(j.spec.text, done);
      return !done;
    });
    const order = [...failures.map((f) => f.input), ...jobs.map((j) => j.spec.text)];
    const results = () => order.filter((i) => records.has(i)).map((i) => records.get(i)!);
    // What was queued, so a summary after Ctrl-C counts the inputs that never ran.
    const total = failures.length + jobs.length;
    const extra = () => ({ inputs: { queued: total, recorded: records.size } });

    let done = jobs.length - todo.length;
    const label = (spec: InputSpec, p?: job.DreamItemProgress) =>
      `${path.basename(spec.text)}${p ? `${p.slices > 1 ? ` slice ${p.slice}/${p.slices}` : ''} octave ${p.octave}/${p.octaves} step ${p.step}/${p.steps} objective ${p.objective.toFixed(4)}` : ''}`;
    // Progress counts the inputs (never 0/0: a run whose inputs all failed to be found reports none).
    if (jobs.length > 0) ctx.emit({ type: 'progress', done, total: jobs.length, label: `starting ${jobs.length} input${jobs.length === 1 ? '' : 's'}` });
    await runJobs(ctx, {
      module: jobModule(import.meta.url, './job'),
      local: job,
      config,
      jobs: todo,
      workers: ctx.workers,
      signal: options.signal,
      onProgress: (j, p) => ctx.emit({ type: 'progress', done, total: jobs.length, label: label(j.spec, p) }),
      onError: (j, err) => ({ input: j.spec.text, error: `${j.spec.text}: ${err.message}` }),
      onResult: async (j, r) => {
        records.set(r.input, r);
        if (r.error) ctx.emit({ type: 'warn', message: r.error });
        await ctx.writeManifest({ results: results(), extra: extra() });
        ctx.emit({ type: 'progress', done: ++done, total: jobs.length, label: label(j.spec) });
      },
    });
    const shared = sharedOutputs(results());
    if (shared.length > 0) ctx.emit({ type: 'warn', message: `outputs named by more than one input (some results were overwritten): ${shared.join(', ')}` });
    return { results: results(), extra: { ...extra(), ...(shared.length > 0 ? { sharedOutputs: shared } : {}) } };
  },
  summarize(manifest, config) {
    const records = manifest.results as job.DreamRecord[];
    const queued = (manifest as { inputs?: { queued: number } }).inputs?.queued ?? records.length;
    const failed = records.filter((r) => r.error).length;
    const lost = ((manifest as { sharedOutputs?: string[] }).sharedOutputs ?? []).length;
    const notRun = queued - records.length;
    const dreamed = records.length - failed;
    return [
      `dreamed ${dreamed} of ${queued} input${queued === 1 ? '' : 's'} into ${config.write.out} in ${(manifest.wallTimeMs / 1000).toFixed(1)} s on ${manifest.engine.engine}/${manifest.engine.backend}`,
      failed ? `; ${failed} failed (listed in manifest.json)` : '',
      notRun > 0 ? `; ${notRun} not run (interrupted)` : '',
      lost ? `; ${lost} output name${lost === 1 ? '' : 's'} shared by several inputs (results overwritten)` : '',
    ].join('');
  },
});
