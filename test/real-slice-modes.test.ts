/**
 * The activations, attribute and examples modes of the table: their pipelines are validated like any
 * other (library defaults, keys of other modes refused, string specs and layer names checked at their
 * paths), and each command is a thin handler over its mode: it writes what a pipeline run of the same
 * options writes, through the same run context (manifest, index.html).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { ActivationsRecord } from '../src/activations/activations.js';
import type { AttributionRecord } from '../src/attribution/attribute.js';
import { main } from '../src/cli/main.js';
import type { Manifest } from '../src/run/manifest.js';
import { runPipeline } from '../src/pipeline/run.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { captureOutput, refusalOf, tempDir } from './helpers.js';

const problems = refusalOf;

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
      ascend: { mode: 'attribute', target: 'output', method: 'integrated-gradients', samples: 50, sigma: 0.15, steps: 64, baseline: 'zero', blurSigma: 8, memory: 512 },
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

  it("checks layer names and listed channels against the model's topology, each at its path", () => {
    const message = problems({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'activations', layers: ['dconv64', 'uconv65'], channels: '3,200' } });
    expect(message).toContain('ascend.layers: unknown layer "uconv65" (did you mean "uconv64"?); valid layers:');
    expect(message).toContain('ascend.channels: channel 200 is out of range: layer dconv64 has 64 channels, valid 0-63');
    expect(problems({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute', target: 'filter:conv512#600' } })).toContain('ascend.target: channel 600 is out of range');
    expect(problems({ seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute', target: 'region:0,0,65,10' } })).toContain('a region inside the 64x64 image');
    expect(problems({ seed: { phantoms: 2 }, ascend: { mode: 'examples', layers: ['nope'] } })).toContain('ascend.layers: unknown layer "nope"');
  });
});

describe('real-slice commands: thin handlers over their modes', () => {
  const dir = tempDir();
  const run = async (raw: Record<string, unknown>) => runPipeline(validatePipeline(raw), { command: 'run' });
  /** The command's manifest (--json), checking the run context wrote its manifest and report. */
  const command = async (out: string, ...argv: string[]): Promise<Manifest> => {
    const { result, stdout } = await captureOutput(() => main([...argv, '--backend', 'onnx', '--out', out, '--json']));
    expect(result).toBe(0);
    expect(existsSync(path.join(out, 'index.html'))).toBe(true);
    const written = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    expect(JSON.parse(stdout)).toEqual(written);
    return written;
  };

  it('activations', async () => {
    const cli = path.join(dir, 'act-cli');
    const mode = path.join(dir, 'act-mode');
    const got = await command(cli, 'activations', PHANTOM, '--layers', 'dconv64,uconv128', '--channels', 'top:4');
    const expected = await run({ model: { backend: 'onnx' }, seed: { inputs: [PHANTOM] }, ascend: { mode: 'activations', layers: ['dconv64', 'uconv128'], channels: 'top:4' }, write: { out: mode } });
    expect(got.results).toEqual(expected.results);
    expect(got.command).toBe('activations');
    expect((got.config as { ascend: { mode: string } }).ascend.mode).toBe('activations');
    for (const layer of (expected.results[0] as ActivationsRecord).layers!) expect(readFileSync(path.join(mode, layer.npy)).equals(readFileSync(path.join(cli, layer.npy)))).toBe(true);
  });

  it('attribute', async () => {
    const cli = path.join(dir, 'attr-cli');
    const mode = path.join(dir, 'attr-mode');
    const got = await command(cli, 'attribute', PHANTOM, '--target', 'region:8,8,40,32', '--method', 'gradient-x-input');
    const expected = await run({ model: { backend: 'onnx' }, seed: { inputs: [PHANTOM] }, ascend: { mode: 'attribute', target: 'region:8,8,40,32', method: 'gradient-x-input' }, write: { out: mode } });
    const strip = (r: unknown) => ({ ...(r as object), ms: undefined });
    expect(got.results.map(strip)).toEqual(expected.results.map(strip));
    const npy = (expected.results[0] as AttributionRecord).npy!;
    expect(readFileSync(path.join(mode, npy)).equals(readFileSync(path.join(cli, npy)))).toBe(true);
  });

  it('examples', async () => {
    const cli = path.join(dir, 'ex-cli');
    const mode = path.join(dir, 'ex-mode');
    const got = await command(cli, 'examples', '--phantoms', '3', '--size', '64', '--layers', 'dconv128', '--filters', '0-2', '--top', '2', '--no-synthetic');
    const expected = await run({ model: { backend: 'onnx' }, seed: { phantoms: 3, size: 64 }, ascend: { mode: 'examples', layers: ['dconv128'], filters: '0-2', top: 2, synthetic: false }, write: { out: mode } });
    expect(got.results).toEqual(expected.results);
    expect((got as unknown as { slices: number }).slices).toBe(3);
    expect((expected.results as { filters: { patches: unknown[] }[] }[])[0]!.filters.every((f) => f.patches.length === 2)).toBe(true);
  });
});
