import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../src/pipeline/validate.js';
import { runPipeline } from '../src/pipeline/run.js';
import type { PipelineEvent } from '../src/events.js';
import { tempDir } from './helpers.js';

const raw = (out: string, workers: number) => ({
  model: { source: 'builtin', backend: 'wasm' },
  seed: { size: 16, seed: 9 },
  ascend: { layers: ['dconv64', 'dconv256'], filters: '0-3', steps: 3, batch: 2, workers },
  write: { out },
});

describe('worker pool', () => {
  it('gives the same results and PNG bytes with 1 worker and with 2', async () => {
    const [a, b] = [tempDir(), tempDir()];
    const one = await runPipeline(validatePipeline(raw(a, 1)), { command: 'test' });
    const two = await runPipeline(validatePipeline(raw(b, 2)), { command: 'test' });
    expect(two.results).toEqual(one.results);
    for (const f of ['dconv64.png', 'dconv256.png']) expect(readFileSync(path.join(b, f)).equals(readFileSync(path.join(a, f))), f).toBe(true);
  });

  it('reports a worker that dies and retries its job once: nothing is lost', async () => {
    const out = tempDir();
    const marker = path.join(tempDir(), 'died');
    const events: PipelineEvent[] = [];
    const reference = await runPipeline(validatePipeline(raw(tempDir(), 1)), { command: 'test' });
    // The worker entry's fault seam: the first worker to take a job creates the marker and exits with code 3.
    process.env.UNET_DREAM_TEST_WORKER_EXIT_ONCE = marker;
    let manifest;
    try {
      manifest = await runPipeline(validatePipeline(raw(out, 2)), { command: 'test', onEvent: (e) => events.push(e) });
    } finally {
      delete process.env.UNET_DREAM_TEST_WORKER_EXIT_ONCE;
    }
    expect(existsSync(marker)).toBe(true);
    const warnings = events.filter((e) => e.type === 'warn').map((e) => (e as { message: string }).message);
    expect(warnings.some((m) => /worker \d died \(exit code 3\); retrying its job once/.test(m))).toBe(true);
    expect(manifest.results).toEqual(reference.results);
  });
});
