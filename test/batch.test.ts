import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

async function makeInputs(count: number, corrupt: string[]): Promise<string> {
  const dir = tempDir('unet-dream-batch-');
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(24 * 24);
    for (let p = 0; p < data.length; p++) data[p] = (p * (i + 3) * 37) % 251;
    await sharp(data, { raw: { width: 24, height: 24, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, `slice-${String(i).padStart(2, '0')}.png`));
  }
  for (const name of corrupt) writeFileSync(path.join(dir, name), name.endsWith('.dcm') ? '' : 'not an image at all');
  return dir;
}

function pipelineFile(steps = 1): string {
  const file = path.join(tempDir(), 'batch.yaml');
  writeFileSync(file, ['seed: { inputs: [unused] }', `ascend: { mode: dream, layers: [dconv128], octaves: 2, steps: ${steps}, step: 0.05, jitter: 2 }`, ''].join('\n'));
  return file;
}

/**
 * Resolves as soon as OUT/manifest.json records at least N results, woken by the file system's event for
 * each (atomic) manifest write rather than a timer; rejects if the child exits first.
 */
function manifestRecords(out: string, n: number, child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    const done = (fn: () => void) => {
      watcher?.close();
      child.off('exit', onExit);
      fn();
    };
    const check = () => {
      let count = 0;
      try {
        count = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).results.length;
      } catch {
        return; // not written yet
      }
      if (count >= n) done(() => resolve(count));
    };
    const onExit = () => done(() => reject(new Error(`the batch exited before its manifest recorded ${n} results`)));
    child.once('exit', onExit);
    watcher = watch(out, (_event, file) => {
      if (file === 'manifest.json') check();
    });
    check();
  });
}

describe('batch', () => {
  it('a batch of 10 with 2 corrupt files completes 8, records 2 errors and exits 1', async () => {
    const dir = await makeInputs(8, ['bad-a.png', 'bad-b.dcm']);
    const out = path.join(tempDir(), 'out');
    const { result, stdout } = await captureOutput(() => main(['batch', dir, '--pipeline', pipelineFile(), '--out', out, '--concurrency', '1', '--backend', 'wasm']));
    expect(result).toBe(1);
    expect(stdout).toMatch(/dreamed 8 of 10 inputs .*; 2 failed/);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.results).toHaveLength(10);
    const errors = manifest.results.filter((r: { error?: string }) => r.error);
    expect(errors.map((r: { input: string }) => path.basename(r.input)).sort()).toEqual(['bad-a.png', 'bad-b.dcm']);
    for (const e of errors) expect(e.error).toContain(e.input);
    const outputs = readdirSync(out).filter((f) => f.endsWith('.png')).sort();
    expect(outputs).toEqual(Array.from({ length: 8 }, (_, i) => `slice-${String(i).padStart(2, '0')}.png`));
    for (const f of outputs) {
      const meta = await sharp(path.join(out, f)).metadata();
      expect([meta.width, meta.height]).toEqual([24, 24]);
    }
  });

  it('refuses a filters pipeline with a clear message', async () => {
    const file = path.join(tempDir(), 'filters.yaml');
    writeFileSync(file, 'ascend: { layers: [dconv64] }\n');
    const { result, stderr } = await captureOutput(() => main(['batch', tempDir(), '--pipeline', file]));
    expect(result).toBe(2);
    expect(stderr).toContain('batch needs a dream pipeline (ascend.mode: dream); found mode filters');
  });

  it('resumes after SIGKILL: every output exactly once, none corrupt', async () => {
    const dir = await makeInputs(6, []);
    const out = path.join(tempDir(), 'out');
    mkdirSync(out);
    const pipeline = pipelineFile(4);
    const bin = path.resolve('src/cli/bin.ts');
    const args = ['--import', 'tsx', bin, 'batch', dir, '--pipeline', pipeline, '--out', out, '--concurrency', '1', '--backend', 'wasm'];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    // Kill it hard as soon as two inputs are recorded in the manifest.
    await manifestRecords(out, 2, child);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const before = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).results.length;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(6);
    const { result } = await captureOutput(() => main(['batch', dir, '--pipeline', pipeline, '--out', out, '--concurrency', '1', '--backend', 'wasm', '--resume']));
    expect(result).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const inputs = manifest.results.map((r: { input: string }) => path.basename(r.input));
    expect(inputs).toEqual(Array.from({ length: 6 }, (_, i) => `slice-${String(i).padStart(2, '0')}.png`));
    const files = readdirSync(out);
    expect(files.filter((f) => f.endsWith('.png')).sort()).toEqual(inputs);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    for (const f of inputs) expect((await sharp(path.join(out, f)).stats()).channels).toHaveLength(1);
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(true);
  });

  it('SIGINT finishes the inputs in flight, writes the manifest and exits 130', async () => {
    const dir = await makeInputs(6, []);
    const out = path.join(tempDir(), 'out');
    mkdirSync(out);
    const bin = path.resolve('src/cli/bin.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', bin, 'batch', dir, '--pipeline', pipelineFile(4), '--out', out, '--concurrency', '1', '--backend', 'wasm'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await manifestRecords(out, 1, child);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const done = manifest.results.map((r: { input: string }) => path.basename(r.input));
    // Stopped early, and everything recorded has its output, complete.
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.length).toBeLessThan(6);
    const files = readdirSync(out).filter((f) => f.endsWith('.png')).sort();
    expect(files).toEqual(done.sort());
    for (const f of files) expect((await sharp(path.join(out, f)).metadata()).width).toBe(24);
  });
});
