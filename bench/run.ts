/**
 * `npm run bench`: the numbers every speed and memory claim in this project rests on. Each section
 * runs in its own process (bench/sections.ts) so its peak RSS is its own, one after another in one
 * run so ratios compare like with like on a noisy machine. Appends a dated entry to BENCHMARKS.md
 * with the command and the machine, and prints one JSON line last.
 *
 *   npm run bench                      default sections
 *   npm run bench -- --full            also the seed's job on 1 wasm worker and a 4096x4096 dream (slow)
 *   npm run bench -- --quick           tiny sizes, to check the harness (numbers not comparable)
 *   npm run bench -- --only onnx-steps,train   chosen sections
 *   npm run bench -- --no-write        do not touch BENCHMARKS.md
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const full = argv.includes('--full');
const only = argv.find((a) => a.startsWith('--only'))?.split('=')[1] ?? (argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined);
const here = path.dirname(fileURLToPath(import.meta.url));
const cores = os.availableParallelism();

const plan: { section: string; args?: string[] }[] = [
  { section: 'tfjs-steps' },
  { section: 'onnx-steps' },
  { section: 'job-onnx' },
  { section: 'job-onnx-n' },
  { section: 'job-wasm' },
  ...(full ? [{ section: 'job-wasm-1' }] : []),
  { section: 'train' },
  { section: 'dream' },
  ...(full ? [{ section: 'dream', args: ['--size=4096', '--octaves=1', '--steps=1'] }] : []),
  ...(full ? [{ section: 'batch', args: ['--count=100', '--concurrency=1'] }] : []),
  { section: 'batch', args: ['--concurrency=1'] },
  { section: 'batch', args: [`--concurrency=${cores}`] },
  { section: 'queue' },
  { section: 'dissect' },
  { section: 'ablate' },
  { section: 'ablate-plans' },
  { section: 'forward-batch' },
  { section: 'recipes', args: argv.filter((a) => /^--(filters|seeds|layers|log)=/.test(a)) },
].filter((p) => !only || only.split(',').includes(p.section));

type Result = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const results: Result[] = [];
for (const { section, args = [] } of plan) {
  process.stderr.write(`bench: ${section} ${args.join(' ')}\n`);
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'sections.ts'), section, ...args, ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CI: '1' },
  });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    results.push({ section, args, error: `exit ${child.status}` });
    continue;
  }
  results.push({ ...JSON.parse(line), args, wallSeconds: Math.round((Date.now() - started) / 1000) });
}

const get = (section: string, args: string[] = []) => results.find((r) => r.section === section && r.args.join(' ') === args.join(' '));
const md: string[] = [];
const tfjs = get('tfjs-steps');
const onnx = get('onnx-steps');
if (tfjs?.msPerStep) {
  md.push('Milliseconds per seed-recipe step (values + RMS-normalised input gradient) to each layer, 128x128:', '');
  md.push(`| layer | tfjs-wasm default, b1 | tfjs-wasm fast, b1 | fast, b8 | onnx (${cores} threads), b1 | onnx, b8 |`, '| --- | --- | --- | --- | --- | --- |');
  for (const [layer, r] of Object.entries<Record<string, number>>(tfjs.msPerStep)) {
    const o = onnx?.msPerStep?.[layer] as Record<string, number> | undefined;
    md.push(`| ${layer} | ${r.defaultBatch1 ?? '-'} | ${r.fastBatch1} | ${r.fastBatch8} | ${o?.batch1 ?? '-'} | ${o?.batch8 ?? '-'} |`);
  }
  md.push('', `Peak RSS: tfjs-steps ${tfjs.peakRssMb} MB${onnx ? `, onnx-steps ${onnx.peakRssMb} MB (compile ${onnx.compileMs} ms for ${onnx.compiles} graphs)` : ''}.`, '');
}
for (const key of ['job-onnx', 'job-onnx-n', 'job-wasm', 'job-wasm-1']) {
  const r = get(key);
  if (r?.seconds) md.push(`- Seed's job (${quick ? 'QUICK: 2 filters x 2 steps' : '7 layers x 16 filters x 20 steps, 128x128'}), ${key.replace('job-', '')}: ${Object.entries(r.seconds).map(([k, v]) => `${v} s with ${k.replace('workers', '')} worker(s)`).join(', ')}; peak RSS ${r.peakRssMb} MB.`);
}
const train = get('train');
if (train?.stepMs) {
  const parts = Object.entries<number>(train.stepMs).map(([k, v]) => `${k === 'wasm' ? 'tfjs-wasm' : `onnx ${k.slice(4)} thread(s)`} ${v} ms (${train.imagesPerSecond[k]} images/s)`);
  md.push(`- Training step (batch 8 of 64x64 crops, Adam, L1): ${parts.join(', ')}; peak RSS ${train.peakRssMb} MB.`);
}
for (const r of results.filter((x) => x.section === 'dream' && x.seconds !== undefined)) {
  md.push(`- Dream ${r.size}x${r.size}, ${r.octaves} octave(s) x ${r.steps} steps on uconv128, tile 512, onnx: ${r.seconds} s; peak RSS ${r.peakRssMb} MB.`);
}
for (const batch of results.filter((x) => x.section === 'batch' && x.slicesPerMinute)) {
  md.push(`- Batch dream of ${batch.slices} generated 256x256 NIfTI slices (3 octaves x ${quick ? 2 : 10} steps, uconv128 + conv512): ${Object.entries(batch.slicesPerMinute).map(([k, v]) => `${v} slices/min at concurrency ${k.replace('concurrency', '')}`).join(', ')}; peak RSS ${batch.peakRssMb} MB.`);
}
const q = get('queue');
if (q?.slicesPerMinute) {
  const r = q.slicesPerMinute;
  const within = ((r.queue1 / r.local - 1) * 100).toFixed(1);
  md.push(
    `- Queue (BullMQ on a local redis-server, CLI processes) vs local \`batch\` of the same ${q.slices} generated 64x64 NIfTI slices (3 octaves x ${quick ? 2 : 10} steps, uconv128 + conv512), end to end (local: the batch process; queue: \`queue submit\` then \`worker --drain\` processes until they exit): local ${r.local} slices/min (${q.seconds.local} s), queue with 1 worker ${r.queue1} (${q.seconds.queue1} s; ${within}% vs local), 2 workers ${r.queue2} (${q.seconds.queue2} s). Processing spans only (manifest wallTimeMs; first job start to last job end): local ${q.processingSlicesPerMinute.local}, queue 1 worker ${q.processingSlicesPerMinute.queue1}, 2 workers ${q.processingSlicesPerMinute.queue2} slices/min.`,
    ...(q.fixedSeconds ? [`- Fixed costs, once per run whatever its size: local batch start (process, model load) ${q.fixedSeconds.localStart} s; queue: \`queue submit\` ${q.fixedSeconds.submit} s, worker start to its first job ${q.fixedSeconds.workerStart} s. End-to-end ratios of short runs are dominated by these; the processing rates above are what a long run converges to.`] : []),
    `- Queue overhead per job (tiny jobs: ${q.slices} 32x32 slices, 1 octave x 1 step): ${q.overheadMsPerJob} ms (queue span ${q.tiny.queueSpanMs} ms vs local batch ${q.tiny.localManifestMs} ms, both including one model load).`,
  );
} else if (q?.skipped) md.push(`- queue: skipped (${q.skipped})`);
for (const r of results.filter((x) => (x.section === 'dissect' || x.section === 'ablate') && x.seconds !== undefined)) {
  md.push(r.section === 'dissect'
    ? `- Dissect (every conv filter, ${r.filters} in all, 2 passes) over ${r.images} held-out phantoms 128x128, onnx: ${r.seconds} s wall, ${r.cpuSeconds} s CPU; peak RSS ${r.peakRssMb} MB.`
    : `- Ablate ${r.layer} (${r.filters} filters x ${r.images} held-out phantoms, ${r.method} plan), onnx: ${r.seconds} s wall, ${r.cpuSeconds} s CPU; peak RSS ${r.peakRssMb} MB.`);
}
const plans = get('ablate-plans');
if (plans?.cpuSeconds) {
  const c = plans.cpuSeconds;
  md.push(`- Ablation plans, ${plans.layer} filters 0-${plans.filters - 1} x ${plans.images} phantoms, one process: masked batch 10 ${c['masked-b10']} s CPU, masked batch 1 ${c['masked-b1']} s, delta batch 1 ${c['delta-b1']} s; outputs of masked b10 and delta b1 differ by at most ${plans.maxDiff.toExponential(1)}.`);
}
const fb = get('forward-batch');
if (fb?.perImage) {
  const p = fb.perImage;
  md.push(`- Forward pass of the shipped model with every conv layer's output (dissect's graph), ${fb.images} phantoms 128x128, onnx, per image: batch 1 ${p.b1.cpuMs} ms CPU (${p.b1.wallMs} ms wall), batch 2 ${p.b2.cpuMs} ms (${p.b2.wallMs}), batch 8 ${p.b8.cpuMs} ms (${p.b8.wallMs}).`);
}
const recipes = results.find((x) => x.section === 'recipes' && x.perLayer);
if (recipes) {
  md.push(
    `lucid vs seed recipes on ${recipes.model}, ${recipes.size}x${recipes.size}, filters 0-${recipes.filtersPerLayer - 1} of each layer, seeds ${recipes.seeds.join(', ')}, ONNX 1 thread, one process (dead, reached, HF and shares from seed ${recipes.seeds[0]}; angle gap and class agreement across the seeds, over filters alive in all):`,
    '',
    '| recipe | layer | ms/filter | ms/step | CPU ms/step | lucid/seed per step (wall, CPU) | dead (per seed) | reached | HF share | vert / horiz / obl share | V/H/O filters | median angle off vertical | angle gap across seeds | same V/H/O class |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of recipes.perLayer) {
    md.push(`| ${r.recipe} | ${r.layer} | ${r.msPerFilter} | ${r.msPerStep} | ${r.cpuMsPerStep} | ${r.stepRatio === undefined ? '-' : `${r.stepRatio}, ${r.cpuStepRatio}`} | ${r.dead} (${r.deadPerSeed.join(', ')}) | ${Number(r.activationReached).toPrecision(3)} | ${r.hfShare} | ${r.verticalShare} / ${r.horizontalShare} / ${r.obliqueShare} | ${r.classes} | ${r.medianAngleOffVertical} | ${r.meanAngleGapDeg ?? '-'} deg | ${r.sameClassAcrossSeeds}/${r.orientationCompared} |`);
  }
  md.push('');
}
for (const r of results.filter((x) => x.error)) md.push(`- ${r.section}: FAILED (${r.error})`);

const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
const header = `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`${command}\`\n\nMachine: ${cores} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}; load average at the end ${load}.\n\n`;
process.stderr.write(`${header}${md.join('\n')}\n`);
if (!argv.includes('--no-write')) {
  const file = path.resolve('BENCHMARKS.md');
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nEntries appended by `npm run bench` (bench/run.ts, sections in bench/sections.ts); newest last.\n\n');
  appendFileSync(file, `${header}${md.join('\n')}\n\n`);
}
process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), command, cores, quick, results })}\n`);
