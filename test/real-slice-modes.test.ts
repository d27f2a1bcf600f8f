/**
 * The activations, attribute and examples modes of the table: their pipelines are validated like any
 * other (library defaults, keys of other modes refused, string specs checked at their paths), and a
 * pipeline run through the run context writes what the library call of the same options writes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runActivations } from '../src/activations/activations.js';
import { runAttribute } from '../src/attribution/attribute.js';
import { UsageError } from '../src/errors.js';
import { runExamples } from '../src/examples/examples.js';
import { runPipeline } from '../src/pipeline/run.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { tempDir } from './helpers.js';

const problems = (raw: unknown): string => {
  try {
    validatePipeline(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected the pipeline to be refused');
};

const PHANTOM = 'phantom:shepp-logan:64';

describe('real-slice modes: validation', () => {
  it('fills the library defaults into each stage', () => {
    expect(validatePipeline({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'activations', layers: ['dconv64'] } }).config).toEqual({
      model: { source: 'builtin', backend: 'auto', device: 'cpu' },
      seed: { inputs: [PHANTOM], window: [0.5, 99.5], seed: 0 },
      ascend: { mode: 'activations', layers: ['dconv64'], channels: '0-15' },
      render: { colormap: 'viridis', columns: 8 },
      write: { out: 'outputs/activations', raw: 'nifti' },
    });
    expect(validatePipeline({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute' } }).config).toMatchObject({
      ascend: { mode: 'attribute', target: 'output', method: 'integrated-gradients', samples: 50, sigma: 0.15, steps: 64, baseline: 'zero', blurSigma: 8, batch: 2 },
      write: { out: 'outputs/attribute' },
    });
    expect(validatePipeline({ seed: { phantoms: 4 }, ascend: { mode: 'examples', layers: ['dconv64'] } }).config).toMatchObject({
      seed: { inputs: [], phantoms: 4, size: 256 },
      ascend: { mode: 'examples', filters: 'random:8', top: 9, synthetic: true, batch: 8 },
      write: { out: 'outputs/examples' },
    });
  });

  it('refuses keys of other modes and checks specs inside strings, each at its path', () => {
    expect(problems({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute', octaves: 3 } })).toContain('ascend.octaves: unknown key "octaves": `octaves` applies to mode filters, dream');
    const message = problems({ seed: { inputs: ['phantom:shepp-logan:4'] }, ascend: { mode: 'activations', layers: ['dconv64'], channels: 'banana' } });
    expect(message).toContain('ascend.channels');
    expect(message).toContain('"banana"');
    expect(message).toContain('seed.inputs.0');
    expect(problems({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute', method: 'gradcam', target: 'region:5,5,5,9' } }).split('\n')).toHaveLength(2);
    expect(problems({ ascend: { mode: 'examples', layers: ['dconv64'] } })).toContain('seed.inputs');
  });
});

describe('real-slice modes: a pipeline run writes what the library call writes', () => {
  const dir = tempDir();
  const run = async (raw: Record<string, unknown>) => runPipeline(validatePipeline(raw), { command: 'run' });

  it('activations', async () => {
    const lib = path.join(dir, 'act-lib');
    const mode = path.join(dir, 'act-mode');
    const expected = await runActivations({ model: { backend: 'onnx' }, inputs: [PHANTOM], layers: ['dconv64', 'uconv128'], channels: 'top:4', out: lib });
    const manifest = await run({ model: { backend: 'onnx' }, seed: { inputs: [PHANTOM] }, ascend: { mode: 'activations', layers: ['dconv64', 'uconv128'], channels: 'top:4' }, write: { out: mode } });
    expect(manifest.results).toEqual(expected.results);
    for (const layer of expected.results[0]!.layers!) expect(readFileSync(path.join(mode, layer.npy)).equals(readFileSync(path.join(lib, layer.npy)))).toBe(true);
    const written = JSON.parse(readFileSync(path.join(mode, 'manifest.json'), 'utf8'));
    expect(written.config.ascend.mode).toBe('activations');
    expect(written.model.id).toBe(expected.model.id);
  });

  it('attribute', async () => {
    const lib = path.join(dir, 'attr-lib');
    const mode = path.join(dir, 'attr-mode');
    const options = { target: 'region:8,8,40,32', method: 'gradient-x-input' };
    const expected = await runAttribute({ model: { backend: 'onnx' }, inputs: [PHANTOM], ...options, out: lib });
    const manifest = await run({ model: { backend: 'onnx' }, seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute', ...options }, write: { out: mode } });
    const strip = (r: unknown) => ({ ...(r as object), ms: undefined });
    expect(manifest.results.map(strip)).toEqual(expected.results.map(strip));
    const npy = expected.results[0]!.npy!;
    expect(readFileSync(path.join(mode, npy)).equals(readFileSync(path.join(lib, npy)))).toBe(true);
  });

  it('examples', async () => {
    const lib = path.join(dir, 'ex-lib');
    const mode = path.join(dir, 'ex-mode');
    const options = { layers: ['dconv128'], filters: '0-2', top: 2, synthetic: false };
    const expected = await runExamples({ model: { backend: 'onnx' }, phantoms: 3, size: 64, ...options, out: lib });
    const manifest = await run({ model: { backend: 'onnx' }, seed: { phantoms: 3, size: 64 }, ascend: { mode: 'examples', ...options }, write: { out: mode } });
    expect(manifest.results).toEqual(expected.layers);
    expect((manifest as unknown as { slices: number }).slices).toBe(3);
    expect(expected.layers[0]!.filters.every((f) => f.patches.length === 2)).toBe(true);
  });
});
