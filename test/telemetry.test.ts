import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'onnx-run.ts');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
}

/** Runs the ONNX engine and trainer in a fresh process whose home and temp folders are empty. */
function runIsolated(extraEnv: Record<string, string> = {}) {
  const home = tempDir('unet-dream-home-');
  const tmp = tempDir('unet-dream-tmp-');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: tmp, ...extraEnv };
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { env, encoding: 'utf8', cwd: path.dirname(script) });
  // tsx (which runs this TypeScript script; an installed tool runs from dist/) caches its compiles in tsx-<uid>/.
  return { child, home: filesUnder(home), tmp: filesUnder(tmp).filter((f) => !/^tsx-\d+\//.test(f)) };
}

describe('ONNX Runtime writes nothing outside what the user named', () => {
  it('telemetry is off before the runtime loads: no files under HOME or the temp folder after the engine and the trainer ran', () => {
    const { child, home, tmp } = runIsolated();
    expect(child.status, child.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(child.stdout);
    expect(Number.isFinite(out.value) && Number.isFinite(out.loss)).toBe(true);
    expect(out.telemetry).toBe('1');
    expect(home).toEqual([]);
    expect(tmp).toEqual([]);
    expect(existsSync(`/tmp/mat-debug-${child.pid}.log`)).toBe(false);
  });

  it('a user who sets ORT_DISABLE_TELEMETRY=0 opts in, and the runtime then writes its files (so the check above can fail)', () => {
    const { child, home, tmp } = runIsolated({ ORT_DISABLE_TELEMETRY: '0' });
    expect(child.status, child.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(child.stdout).telemetry).toBe('0');
    expect(home).toContain(path.join('.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime', 'deviceid'));
    expect(tmp.some((f) => /^mat-debug-\d+\.log$/.test(f))).toBe(true);
  });
});
