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
import { parseInputSpec, type InputSpec } from '../../io/input-spec.js';
import { walkInputs } from '../../io/walk.js';
import { jobModule, runJobs } from '../../run/jobs.js';
import { defineMode } from '../../run/mode.js';
import * as job from './job.js';
import { dreamStages, type DreamConfig } from './schema.js';

/**
 * Files and folders to input specs; a folder contributes every readable-looking file under it. Exported
 * for src/queue (shards and queue jobs split this order), so a distributed run sees the inputs of a local one.
 */
export async function expandInputs(inputs: string[], include?: string): Promise<{ specs: InputSpec[]; failures: job.DreamRecord[] }> {
  const specs: InputSpec[] = [];
  const failures: job.DreamRecord[] = [];
  for (const text of inputs) {
    const spec = parseInputSpec(text);
    const stat = await fs.stat(spec.path).catch(() => undefined);
    if (!stat) failures.push({ input: text, error: `${text}: no such file or directory` });
    else if (stat.isDirectory()) for (const f of await walkInputs(spec.path, { include })) specs.push(parseInputSpec(f));
    else specs.push(spec);
  }
  return { specs, failures };
}

/** The results already in OUT/manifest.json whose outputs all exist. */
async function previousRecords(out: string): Promise<Map<string, job.DreamRecord>> {
  const kept = new Map<string, job.DreamRecord>();
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { results: job.DreamRecord[] };
    for (const r of manifest.results) {
      if (r.error || !r.outputs?.length) continue;
      const complete = await Promise.all(r.outputs.map((f) => fs.stat(path.join(out, f)).then(() => true, () => false)));
      if (complete.every(Boolean)) kept.set(r.input, r);
    }
  } catch {
    // No readable manifest: nothing to resume from.
  }
  return kept;
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
    const { specs, failures } = await expandInputs(config.seed.inputs, config.seed.include);
    const previous = options.resume ? await previousRecords(out) : new Map<string, job.DreamRecord>();
    if (previous.size > 0) ctx.emit({ type: 'info', message: `resuming: ${previous.size} input${previous.size === 1 ? '' : 's'} already done` });

    // Records by input, in input order; the manifest is rewritten (atomically) after every one.
    const records = new Map<string, job.DreamRecord>();
    for (const f of failures) {
      records.set(f.input, f);
      ctx.emit({ type: 'warn', message: f.error! });
    }
    const todo = specs.filter((s) => {
      const done = previous.get(s.text);
      if (done) records.set(s.text, done);
      return !done;
    });
    const order = [...failures.map((f) => f.input), ...specs.map((s) => s.text)];
    const results = () => order.filter((i) => records.has(i)).map((i) => records.get(i)!);

    const total = specs.length;
    let done = total - todo.length;
    const label = (spec: InputSpec, p?: job.DreamItemProgress) =>
      `${path.basename(spec.text)}${p ? `${p.slices > 1 ? ` slice ${p.slice}/${p.slices}` : ''} octave ${p.octave}/${p.octaves} step ${p.step}/${p.steps} objective ${p.objective.toFixed(4)}` : ''}`;
    ctx.emit({ type: 'progress', done, total, label: 'starting' });
    await runJobs(ctx, {
      module: jobModule(import.meta.url, './job'),
      local: job,
      config,
      jobs: todo,
      workers: ctx.workers,
      signal: options.signal,
      onProgress: (spec, p) => ctx.emit({ type: 'progress', done, total, label: label(spec, p) }),
      onError: (spec, err) => ({ input: spec.text, error: `${spec.text}: ${err.message}` }),
      onResult: async (spec, r) => {
        records.set(r.input, r);
        if (r.error) ctx.emit({ type: 'warn', message: r.error });
        await ctx.writeManifest({ results: results() });
        ctx.emit({ type: 'progress', done: ++done, total, label: label(spec) });
      },
    });
    return { results: results() };
  },
  summarize(manifest, config) {
    const total = manifest.results.length;
    const failed = (manifest.results as job.DreamRecord[]).filter((r) => r.error).length;
    return `dreamed ${total - failed} of ${total} input${total === 1 ? '' : 's'} into ${config.write.out} in ${(manifest.wallTimeMs / 1000).toFixed(1)} s on ${manifest.engine.engine}/${manifest.engine.backend}${failed ? `; ${failed} failed (listed in manifest.json)` : ''}`;
  },
});
