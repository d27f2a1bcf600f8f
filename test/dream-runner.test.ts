/**
 * The dream run flow (issue 14 "MR outputs", issue 15 items 8, 10-16): output range, 4-D NIfTI, names unique per
 * input, `#` in discovered names, --out inside the input folder, the lock, --resume settings, Ctrl-C, empty inputs,
 * another run's manifest. Runs a tiny saved model (fast) unless the model's own minimum size is what is tested.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { createImage } from '../src/io/image.js';
import { readImages } from '../src/io/read.js';
import { writeImage } from '../src/io/write.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { sheppLogan } from '../src/mri/index.js';
import { captureOutput, tempDir, tinyConvNet } from './helpers.js';

const run = (...argv: string[]) => captureOutput(() => main(argv));
const REALDATA = path.resolve('../shared/realdata');

let model: string;
/** Flags for a quick dream on the tiny model; OVER replaces some (a flag given twice would become an array). */
const fast = (over: Record<string, string> = {}) =>
  Object.entries({ '--model': model, '--layers': 'c2', '--octaves': '1', '--steps': '1', '--step': '0.5', '--jitter': '0', '--backend': 'wasm', ...over }).flat();

async function png(file: string, size: number, seed = 3): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const data = Buffer.alloc(size * size);
  for (let p = 0; p < data.length; p++) data[p] = (p * seed * 37) % 251;
  await sharp(data, { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png().toFile(file);
}

/** A 4-D NIfTI-1 (int16, 8x8x2 voxels, T volumes), written byte by byte as the standard lays it out. */
function nifti4d(file: string, t: number): void {
  const [nx, ny, nz] = [8, 8, 2];
  const header = Buffer.alloc(352);
  header.writeInt32LE(348, 0);
  [4, nx, ny, nz, t, 1, 1, 1].forEach((d, i) => header.writeInt16LE(d, 40 + 2 * i));
  header.writeInt16LE(4, 70); // int16
  header.writeInt16LE(16, 72);
  [1, 2, 2, 3, 1.5, 1, 1, 1].forEach((d, i) => header.writeFloatLE(d, 76 + 4 * i));
  header.writeFloatLE(352, 108);
  header.writeUInt8(2 | 8, 123); // mm, s
  header.writeInt16LE(1, 254); // sform_code
  [[2, 0, 0, -8], [0, 2, 0, -8], [0, 0, 3, 0]].forEach((row, r) => row.forEach((v, c) => header.writeFloatLE(v, 280 + 16 * r + 4 * c)));
  header.write('n+1\0', 344, 'latin1');
  const voxels = Buffer.alloc(nx * ny * nz * t * 2);
  for (let v = 0; v < t; v++) for (let i = 0; i < nx * ny * nz; i++) voxels.writeInt16LE(100 * (v + 1) + ((i * 7) % 50), 2 * (v * nx * ny * nz + i));
  writeFileSync(file, gzipSync(Buffer.concat([header, voxels])));
}

const manifestOf = (out: string) => JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
/** The run's HTML report (index.html and its report/ folder), which every run writes beside its outputs. */
const isReport = (name: string) => name === 'index.html' || name === 'report';
/** Every file under DIR but the report, relative and '/'-separated, hidden ones (the lock) included. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .filter((e) => rel !== '' || !isReport(e.name))
    .flatMap((e) => (e.isDirectory() ? filesUnder(dir, `${rel}${e.name}/`) : [`${rel}${e.name}`]))
    .sort();
}

beforeAll(async () => {
  model = tempDir('unet-dream-tiny-');
  await saveLayersModel(tinyConvNet(3, 'tanh'), model);
});

describe('dream outputs: range and 4-D NIfTI (issue 14)', () => {
  let mr: string;
  beforeAll(async () => {
    mr = path.join(tempDir(), 'mr.nii.gz');
    await writeImage(createImage(32, 32, 1, sheppLogan(32).map((v) => Math.round(v * 1000)), { format: 'nifti', dtype: 'int16', bitDepth: 16 }), mr);
  });

  it('bounds outputs to the input range by default, and records --range in the manifest', async () => {
    const bounded = path.join(tempDir(), 'out');
    const free = path.join(tempDir(), 'out');
    expect((await run('dream', mr, ...fast({ '--step': '2' }), '--out', bounded)).result).toBe(0);
    expect((await run('dream', mr, ...fast({ '--step': '2' }), '--range', 'free', '--out', free)).result).toBe(0);
    const [a] = await readImages(path.join(bounded, 'mr.nii.gz'));
    const [b] = await readImages(path.join(free, 'mr.nii.gz'));
    expect(a!.meta.range.min).toBeGreaterThanOrEqual(0);
    expect(a!.meta.range.max).toBeLessThanOrEqual(1000);
    // The same dream left free goes outside the input's 0..1000: the bound is what keeps the magnitude valid.
    expect(b!.meta.range.min < 0 || b!.meta.range.max > 1000).toBe(true);
    expect(manifestOf(bounded).config.write.range).toBe('input');
    expect(manifestOf(free).config.write.range).toBe('free');
    expect(manifestOf(bounded).results[0].inputRange).toEqual({ min: 0, max: 1000 });
  });

  it('dreams every volume of a 4-D file into one 4-D output; --volume names the volume; PNG slices carry it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'fmri.nii.gz');
    nifti4d(file, 3);
    const all = path.join(tempDir(), 'out');
    expect((await run('dream', file, ...fast({ '--steps': '0' }), '--axis', 'z', '--out', all)).result).toBe(0);
    expect(readdirSync(all).filter((f) => !isReport(f)).sort()).toEqual(['fmri.nii.gz', 'manifest.json']);
    const slices = await readImages(path.join(all, 'fmri.nii.gz'));
    expect(slices).toHaveLength(6);
    expect(slices[0]!.meta.nifti!.dims.slice(0, 5)).toEqual([4, 8, 8, 2, 3]);
    expect(slices[0]!.meta.nifti!.pixdim[4]).toBeCloseTo(1.5, 6);
    // Each volume kept its own values (volume v holds 100(v+1) + 0..49), not volume 0 repeated.
    expect(slices.map((s) => Math.round(s.meta.range.min / 100))).toEqual([1, 1, 2, 2, 3, 3]);

    const one = path.join(tempDir(), 'out');
    expect((await run('dream', file, ...fast(), '--volume', '1', '--out', one)).result).toBe(0);
    expect(readdirSync(one).filter((f) => !isReport(f)).sort()).toEqual(['fmri-t1.nii.gz', 'manifest.json']);
    const picked = await readImages(path.join(one, 'fmri-t1.nii.gz'));
    expect(picked[0]!.meta.nifti!.dims[0]).toBe(3);
    expect(picked[0]!.meta.range.min).toBeGreaterThanOrEqual(200);

    const pngs = path.join(tempDir(), 'out');
    expect((await run('dream', file, ...fast(), '--axis', 'z', '--format', 'png', '--out', pngs)).result).toBe(0);
    const names = readdirSync(pngs).filter((f) => f.endsWith('.png')).sort();
    expect(names).toEqual(['fmri-t0-0000.png', 'fmri-t0-0001.png', 'fmri-t1-0000.png', 'fmri-t1-0001.png', 'fmri-t2-0000.png', 'fmri-t2-0001.png']);
    expect(manifestOf(pngs).results[0].outputs).toEqual(names);
  });
});

describe('per-input errors and names (issue 15)', () => {
  it('item 8: an image under the model minimum fails alone (exit 1), the same at --concurrency 1 and 2', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a-tiny.png'), 4);
    await png(path.join(dir, 'b-ok.png'), 24);
    const pipeline = path.join(tempDir(), 'p.yaml');
    writeFileSync(pipeline, 'seed: { inputs: [unused] }\nascend: { mode: dream, layers: [dconv128], octaves: 1, steps: 1, jitter: 0 }\n');
    for (const concurrency of ['1', '2']) {
      const out = path.join(tempDir(), 'out');
      const { result, stdout } = await run('batch', dir, '--pipeline', pipeline, '--out', out, '--concurrency', concurrency, '--backend', 'wasm');
      expect(result, `--concurrency ${concurrency}`).toBe(1);
      expect(stdout).toMatch(/dreamed 1 of 2 inputs .*; 1 failed/);
      const results = manifestOf(out).results;
      expect(results[0].error).toBe(`${path.join(dir, 'a-tiny.png')}: an image of 4x4 is smaller than the model's minimum of 8x8 pixels`);
      expect(results[1].outputs).toEqual(['b-ok.png']);
      expect(existsSync(path.join(out, 'b-ok.png'))).toBe(true);
    }
  });

  it('item 10: a.png, a.jpg and sub/a.png get three names, x.nii and x.nii.gz two; nothing is lost', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a.png'), 16, 3);
    await sharp(Buffer.alloc(16 * 16, 90), { raw: { width: 16, height: 16, channels: 1 } }).jpeg().toFile(path.join(dir, 'a.jpg'));
    await png(path.join(dir, 'sub', 'a.png'), 16, 5);
    const mr = createImage(16, 16, 1, sheppLogan(16).map((v) => Math.round(v * 500)), { format: 'nifti', dtype: 'int16', bitDepth: 16 });
    await writeImage(mr, path.join(dir, 'x.nii'));
    await writeImage(mr, path.join(dir, 'x.nii.gz'));
    const out = path.join(tempDir(), 'out');
    const { result, stdout } = await run('dream', dir, ...fast(), '--out', out);
    expect(result).toBe(0);
    expect(stdout).toMatch(/dreamed 5 of 5 inputs/);
    expect(filesUnder(out)).toEqual(['a-jpg.png', 'a-png.png', 'manifest.json', 'sub/a.png', 'x-nii-gz.nii.gz', 'x-nii.nii.gz']);
    const byInput = Object.fromEntries(manifestOf(out).results.map((r: { input: string; outputs: string[] }) => [path.relative(dir, r.input), r.outputs]));
    expect(byInput).toEqual({ 'a.jpg': ['a-jpg.png'], 'a.png': ['a-png.png'], 'sub/a.png': ['sub/a.png'], 'x.nii': ['x-nii.nii.gz'], 'x.nii.gz': ['x-nii-gz.nii.gz'] });
    // Each output is its own input's: sub/a.png was dreamed from sub/a.png, not overwritten by a.png's.
    const [top] = await readImages(path.join(dir, 'a.png'));
    const [sub] = await readImages(path.join(dir, 'sub', 'a.png'));
    const [outSub] = await readImages(path.join(out, 'sub', 'a.png'));
    const dist = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + Math.abs(v - q[i]!), 0);
    expect(dist(outSub!.data, sub!.data)).toBeLessThan(dist(outSub!.data, top!.data));
  });

  it.skipIf(!existsSync(REALDATA))('item 10: m-0003.dcm and frame 3 of a multi-frame m.dcm get different names', async () => {
    const dir = tempDir();
    copyFileSync(path.join(REALDATA, 'dicom/pydicomdata_emri_small.dcm'), path.join(dir, 'm.dcm'));
    copyFileSync(path.join(REALDATA, 'dicom/pydicom_MR_small.dcm'), path.join(dir, 'm-0003.dcm'));
    const out = path.join(tempDir(), 'out');
    const { result } = await run('dream', dir, ...fast({ '--steps': '0' }), '--out', out);
    expect(result).toBe(0);
    const results = manifestOf(out).results as { input: string; outputs: string[] }[];
    const frames = results.find((r) => r.input.endsWith(`${path.sep}m.dcm`))!.outputs;
    expect(frames.length).toBeGreaterThan(3);
    expect(frames[3]).toBe('m-dcm-0003.dcm');
    expect(results.find((r) => r.input.endsWith('m-0003.dcm'))!.outputs).toEqual(['m-0003-dcm.dcm']);
    const all = results.flatMap((r) => r.outputs);
    expect(new Set(all).size).toBe(all.length);
    expect(filesUnder(out).filter((f) => f.endsWith('.dcm'))).toHaveLength(all.length);
  });

  it('item 11: a # in a discovered file name is part of the name (batch and inspect)', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'scan#1.png'), 16);
    await png(path.join(dir, 'scan#z=2.png'), 16);
    const out = path.join(tempDir(), 'out');
    const { result, stdout } = await run('dream', dir, ...fast(), '--out', out);
    expect(result).toBe(0);
    expect(stdout).toMatch(/dreamed 2 of 2 inputs/);
    expect(filesUnder(out)).toEqual(['manifest.json', 'scan#1.png', 'scan#z=2.png']);
    const inspected = await run('inspect', path.join(dir, 'scan#z=2.png'), path.join(dir, 'scan#1.png'), '--json');
    expect(inspected.result).toBe(0);
    expect(JSON.parse(inspected.stdout).results.map((r: { width: number }) => r.width)).toEqual([16, 16]);
  });

  it('item 12: --out inside the input folder: outputs and manifest.json are never inputs', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a.png'), 16);
    await png(path.join(dir, 'b.png'), 16);
    const out = path.join(dir, 'results');
    expect((await run('dream', dir, ...fast(), '--out', out)).result).toBe(0);
    // A second run (resumed, and then overwriting) walks the same folder: still the two inputs.
    const resumed = await run('dream', dir, ...fast(), '--out', out, '--resume');
    expect(resumed.result).toBe(0);
    expect(resumed.stdout).toMatch(/dreamed 2 of 2 inputs/);
    const again = await run('dream', dir, ...fast(), '--out', out, '--overwrite');
    expect(again.result).toBe(0);
    expect(manifestOf(out).results.map((r: { input: string }) => path.basename(r.input))).toEqual(['a.png', 'b.png']);
    expect(filesUnder(out)).toEqual(['a.png', 'b.png', 'manifest.json']);
  }, 400_000);

  it('item 13: a second run into a locked --out is refused; a stale lock of a dead process is taken over', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a.png'), 16);
    const out = path.join(tempDir(), 'out');
    // Two runs at once in this process: exactly one gets the folder.
    // One capture around both: two overlapping captures of this process's stderr would restore each other's writers.
    const both = await captureOutput(() => Promise.all([main(['dream', dir, ...fast(), '--out', out]), main(['dream', dir, ...fast(), '--out', out])]));
    const codes = [...both.result].sort();
    expect(codes).toEqual([0, 2]);
    expect(both.stderr).toContain(`${out} is in use by another unet-dream run (pid ${process.pid})`);
    expect(existsSync(path.join(out, '.unet-dream.lock'))).toBe(false);

    // A lock left by a process that no longer exists.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const staleOut = path.join(tempDir(), 'out');
    mkdirSync(staleOut);
    writeFileSync(path.join(staleOut, '.unet-dream.lock'), `${dead.pid}\n`);
    expect((await run('dream', dir, ...fast(), '--out', staleOut)).result).toBe(0);
    expect(filesUnder(staleOut)).toEqual(['a.png', 'manifest.json']);
  });

  it('item 14: --resume with other settings is refused, naming each key that differs', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a.png'), 16);
    const out = path.join(tempDir(), 'out');
    expect((await run('dream', dir, ...fast(), '--out', out)).result).toBe(0);
    const before = readFileSync(path.join(out, 'manifest.json'), 'utf8');
    const { result, stderr } = await run('dream', dir, ...fast({ '--steps': '2' }), '--range', 'free', '--out', out, '--resume');
    expect(result).toBe(2);
    expect(stderr).toContain(`--resume: ${out} was run with different settings: ascend.steps 1 (now 2), write.range "input" (now "free")`);
    expect(readFileSync(path.join(out, 'manifest.json'), 'utf8')).toBe(before);
  });

  it('items 11/16: an empty folder or a folder named x.png exits 2 with "no inputs found in", leaving no --out', async () => {
    const empty = tempDir();
    const named = path.join(tempDir(), 'x.png');
    mkdirSync(named);
    for (const input of [empty, named]) {
      const out = path.join(tempDir(), 'out');
      const { result, stdout, stderr } = await run('dream', input, ...fast(), '--out', out);
      expect(result).toBe(2);
      expect(stderr).toContain(`no inputs found in ${input}`);
      expect(stdout).not.toContain('dreamed');
      expect(existsSync(out)).toBe(false);
    }
  });

  it('item 12 (issue 14): another run\'s --out is refused; --overwrite removes only the files its manifest names', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a.png'), 16);
    await png(path.join(dir, 'b.png'), 16);
    const out = path.join(tempDir(), 'out');
    expect((await run('dream', dir, ...fast(), '--out', out)).result).toBe(0);
    writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const refused = await run('dream', path.join(dir, 'a.png'), ...fast(), '--out', out);
    expect(refused.result).toBe(2);
    expect(refused.stderr).toContain(`${out} holds the results of another run (manifest.json); use --resume to continue it, --overwrite to replace it`);
    expect(filesUnder(out)).toEqual(['a.png', 'b.png', 'manifest.json', 'notes.txt']);
    const replaced = await run('dream', path.join(dir, 'a.png'), ...fast(), '--out', out, '--overwrite');
    expect(replaced.result).toBe(0);
    expect(filesUnder(out)).toEqual(['a.png', 'manifest.json', 'notes.txt']);
    expect(manifestOf(out).results).toHaveLength(1);
  });

  it('the first progress line counts the inputs; no NaN anywhere', async () => {
    const dir = tempDir();
    await png(path.join(dir, 'a.png'), 16);
    const { result, stderr } = await run('dream', path.join(dir, 'a.png'), ...fast(), '--out', path.join(tempDir(), 'out'));
    expect(result).toBe(0);
    const progress = stderr.split('\n').filter((l) => l.startsWith('['));
    expect(progress[0]).toMatch(/^\[0\/1\] starting 1 input/);
    expect(stderr).not.toMatch(/NaN/);
  });
});

describe('Ctrl-C (issue 15 item 15)', () => {
  it('exits 130 even when an input failed, and counts what was queued', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a-bad.png'), 'not an image');
    for (let i = 0; i < 10; i++) await png(path.join(dir, `s-${String(i).padStart(2, '0')}.png`), 64, i + 3);
    const out = path.join(tempDir(), 'out');
    const bin = path.resolve('src/cli/bin.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', bin, 'dream', dir, ...fast({ '--steps': '400' }), '--out', out], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Interrupt once the failure and one dreamed input are recorded.
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const results = existsSync(path.join(out, 'manifest.json')) ? manifestOf(out).results : [];
      if (results.length >= 2) break;
      if (child.exitCode !== null) throw new Error('the run ended before it could be interrupted');
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const recorded = manifestOf(out).results.length;
    expect(recorded).toBeLessThan(11);
    expect(stdout).toMatch(new RegExp(`dreamed ${recorded - 1} of 11 inputs .*; 1 failed .*; ${11 - recorded} not run \\(interrupted\\)`));
  }, 400_000);
});
