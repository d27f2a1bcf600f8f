import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

const run = (...argv: string[]) => captureOutput(() => main(argv));

describe('unet-dream CLI', () => {
  it('layers --json gives the seed table and says the builtin weights are the shipped trained ones', async () => {
    const { result, stdout } = await run('layers', '--json');
    expect(result).toBe(0);
    const table = JSON.parse(stdout);
    expect(table.totalParams).toBe(2881217);
    expect(table.trainableParams).toBe(2879553);
    expect(table.layers.map((l: { name: string }) => l.name)).toContain('uconv128');
    expect(table.layers[1]).toEqual({ name: 'dconv64', type: 'Conv2D', outputShape: [null, 128, 128, 64], params: 640, inputs: ['input_3'] });
    expect(table.model).toMatchObject({ id: 'builtin:unet-phantom', trained: true });
  });

  it('layers prints a Keras-style table', async () => {
    const { result, stdout } = await run('layers');
    expect(result).toBe(0);
    expect(stdout).toMatch(/dconv64 \(Conv2D\)\s+\(None, 128, 128, 64\)\s+640\s+input_3/);
    expect(stdout).toMatch(/Total params: 2,881,217/);
    expect(stdout).toMatch(/Non-trainable params: 1,664/);
  });

  it('filters --json writes sheets and prints the manifest; activations rise', async () => {
    const out = tempDir();
    const { result, stdout } = await run('filters', '--layers', 'dconv64,conv512', '--filters', '0-1', '--steps', '2', '--size', '16', '--seed', '1', '--out', out, '--json', '--workers', '1');
    expect(result).toBe(0);
    const manifest = JSON.parse(stdout);
    expect(manifest.results).toHaveLength(4);
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))).toEqual(manifest);
    expect(manifest.results.map((r: { file: string }) => r.file)).toEqual(['dconv64.png', 'dconv64.png', 'conv512.png', 'conv512.png']);
  });

  it('an unknown layer exits 2 and lists the valid names', async () => {
    const { result, stderr } = await run('filters', '--layers', 'nope', '--out', tempDir());
    expect(result).toBe(2);
    expect(stderr).toMatch(/unknown layer "nope"; valid layers: .*dconv64, conv64_1, .*uconv64, .*final_conv1/);
    expect(stderr).not.toMatch(/did you mean/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a close misspelling gets a did-you-mean', async () => {
    const { result, stderr } = await run('filters', '--layers', 'dconv46', '--out', tempDir());
    expect(result).toBe(2);
    expect(stderr).toMatch(/unknown layer "dconv46" \(did you mean "dconv64"\?\)/);
  });

  it('a filter index out of range states the range', async () => {
    const { result, stderr } = await run('filters', '--layers', 'dconv64', '--filters', '70', '--out', tempDir());
    expect(result).toBe(2);
    expect(stderr).toContain('filter 70 is out of range for layer dconv64: it has 64 filters, valid indices are 0-63');
  });

  it('a size the U-Net cannot take says why', async () => {
    const { result, stderr } = await run('filters', '--size', '100', '--out', tempDir());
    expect(result).toBe(2);
    expect(stderr).toMatch(/size 100 cannot be used with this model: layer "concatenate_\d+" \(Concatenate\) joins inputs of side 24 and 25, which must be equal \(try 104\)/);
  });

  it('an unwritable --out says so', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'file'), 'x');
    const { result, stderr } = await run('filters', '--out', path.join(dir, 'file', 'sub'));
    expect(result).toBe(2);
    expect(stderr).toMatch(/cannot write .*file\/sub: a file is in the way/);
  });

  it('bad option values use one message format', async () => {
    let r = await run('filters', '--filters', 'banana', '--out', tempDir());
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('Expected a range (0-15), a list (3,5,9), random:N or all for --filters but received "banana"');
    r = await run('filters', '--init', 'uniform:2:1', '--out', tempDir());
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('Expected uniform:LO:HI with LO < HI for --init but received "uniform:2:1"');
    r = await run('filters', '--recipe', 'sed', '--out', tempDir());
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('unknown recipe "sed" (did you mean "seed"?); valid recipes: seed');
    r = await run('filters', '--colormap', 'jet', '--out', tempDir());
    expect(r.result).toBe(2);
    // A config built from flags names the flag; the same value in a pipeline file names its key (below).
    expect(r.stderr).toContain('--colormap: expected one of "viridis", "magma", "rdbu", "gray", found string "jet"');
  });

  it('an unknown flag or command is bad usage (exit 2)', async () => {
    expect((await run('filters', '--layer', 'dconv64')).result).toBe(2);
    expect((await run('frobnicate')).result).toBe(2);
    expect((await run('filters', '--backend', 'gpu')).result).toBe(2);
  });

  it('an explicitly requested backend that cannot load says why and how to install it', async () => {
    const { result, stderr } = await run('layers', '--backend', 'tensorflow');
    expect(result).toBe(2);
    expect(stderr).toMatch(/--backend tensorflow cannot load: @tensorflow\/tfjs-node-gpu: the package is not installed; @tensorflow\/tfjs-node: the package is not installed\. To use it, install it with `npm install @tensorflow\/tfjs-node@4.22.0`/);
  });

  it('--verbose names the chosen engine: ONNX Runtime by default for the U-Net, tfjs on wasm when asked', async () => {
    const { result, stderr } = await run('filters', '--layers', 'dconv64', '--filters', '0', '--steps', '1', '--size', '8', '--out', tempDir(), '--verbose', '--workers', '1');
    expect(result).toBe(0);
    expect(stderr).toMatch(/engine onnx on \S+ .*, 1 worker/);
    const wasm = await run('filters', '--layers', 'dconv64', '--filters', '0', '--steps', '1', '--size', '8', '--out', tempDir(), '--verbose', '--workers', '1', '--backend', 'wasm');
    expect(wasm.stderr).toMatch(/engine tfjs on wasm \(@tensorflow\/tfjs-backend-wasm\), 1 worker/);
  });

  it('run takes a pipeline file and reports config errors with file:line:col and did-you-mean', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, ['model:', '  source: builtin', 'ascend:', '  layers: [dconv64]', '  stpes: 3', 'seed:', '  size: "big"', 'rendr: {}', ''].join('\n'));
    const { result, stderr } = await run('run', file);
    expect(result).toBe(2);
    expect(stderr).toContain(`${file}:8:1: unknown stage "rendr" (did you mean "render"?); valid stages for mode filters: model, seed, ascend, render, tile, write`);
    expect(stderr).toContain(`${file}:5:3: ascend.stpes: unknown key "stpes" (did you mean "steps"?)`);
    expect(stderr).toContain(`${file}:7:9: seed.size: expected number, found string "big"`);
  });

  it('a key of the other mode is an error naming the key, its place and the mode it applies to (exit 2)', async () => {
    const dir = tempDir();
    const filters = path.join(dir, 'filters.yaml');
    writeFileSync(filters, ['ascend:', '  layers: [dconv64]', '  jitter: 7', 'write:', '  format: dcm', ''].join('\n'));
    let r = await run('run', filters);
    expect(r.result).toBe(2);
    expect(r.stderr).toContain(`${filters}:3:3: ascend.jitter: unknown key "jitter": \`jitter\` applies to mode dream`);
    expect(r.stderr).toContain(`${filters}:5:3: write.format: unknown key "format": \`format\` applies to mode dream`);
    const dream = path.join(dir, 'dream.yaml');
    writeFileSync(dream, ['seed:', '  inputs: [x.png]', '  init: "uniform:0:1"', 'ascend:', '  mode: dream', '  workers: 3', 'render: { colormap: gray }', ''].join('\n'));
    r = await run('run', dream);
    expect(r.result).toBe(2);
    expect(r.stderr).toContain(`${dream}:3:3: seed.init: unknown key "init": \`init\` applies to mode filters`);
    expect(r.stderr).toContain(`${dream}:6:3: ascend.workers: unknown key "workers": \`workers\` applies to mode filters`);
    expect(r.stderr).toContain(`${dream}:7:1: unknown stage "render": \`render\` applies to mode filters`);
    const unknown = path.join(dir, 'unknown.yaml');
    writeFileSync(unknown, ['ascend:', '  mode: dreem', ''].join('\n'));
    r = await run('run', unknown);
    expect(r.result).toBe(2);
    expect(r.stderr).toContain(`${unknown}:2:9: ascend.mode: unknown mode "dreem" (did you mean "dream"?); valid modes: filters, dream`);
  });

  it('library errors name options; the command line names the flag the user typed', async () => {
    const dir = tempDir();
    let r = await run('dream', path.join(dir, 'x.png'), '--octave-scale', '1', '--out', dir);
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('--octave-scale: expected >1, found number 1');
    r = await run('dream', path.join(dir, 'x.png'), '--layers', 'a:b', '--out', dir);
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('Expected LAYER, LAYER:WEIGHT or LAYER#FILTER, comma-separated for --layers but received "a:b"');
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, ['seed: { inputs: [x.png] }', 'ascend: { mode: dream, layers: ["a:b"] }', ''].join('\n'));
    r = await run('run', file);
    expect(r.result).toBe(2);
    expect(r.stderr).toContain(`${file}:2:32: Expected LAYER, LAYER:WEIGHT or LAYER#FILTER, comma-separated for ascend.layers but received "a:b"`);
  });

  it('run executes a valid pipeline file, with --set overrides', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'p.yaml');
    const out = path.join(dir, 'out');
    mkdirSync(out);
    writeFileSync(file, ['seed: { size: 16 }', 'ascend: { layers: [dconv128], filters: "0-1", steps: 4, workers: 1 }', `write: { out: ${JSON.stringify(out)} }`, ''].join('\n'));
    const { result } = await run('run', file, '--set', 'ascend.steps=2', '--set', 'tile.columns=1');
    expect(result).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.config.ascend.steps).toBe(2);
    expect(manifest.config.tile.columns).toBe(1);
  });
});
