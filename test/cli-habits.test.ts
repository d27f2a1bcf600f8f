/** Issue 14 "The CLI's habits" and issue 15 items 4, 17 (config), 18 (inspect): what a user types and reads. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, main } from '../src/cli/main.js';
import { applyOverrides, readPipelineFile } from '../src/pipeline/file.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { captureOutput, tempDir } from './helpers.js';

const run = (...argv: string[]) => captureOutput(() => main(argv));
const repo = path.resolve(import.meta.dirname, '..');

/** yargs prints help with console.log: collect it as the stdout the user reads. */
async function help(command: string): Promise<{ result: number; stdout: string }> {
  const logged: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void logged.push(a.join(' '));
  try {
    const { result, stdout } = await run(command, '--help');
    return { result, stdout: stdout + logged.join('\n') };
  } finally {
    console.log = log;
  }
}

describe('unknown commands, options and numbers', () => {
  it('an unknown command gets a did-you-mean and the command list, exit 2', async () => {
    const { result, stderr } = await run('fliters');
    expect(result).toBe(2);
    expect(stderr).toContain('unknown command "fliters" (did you mean "filters"?)');
    expect(stderr).toContain(`commands: ${COMMAND_NAMES.join(', ')}`);
    const bogus = await run('bogus');
    expect(bogus.result).toBe(2);
    expect(bogus.stderr).toMatch(/^unet-dream: unknown command "bogus"; commands: layers, filters, dream, batch, run, report, inspect, convert, train, eval, activations, attribute, examples, dissect, ablate, prune, merge, queue, worker /);
  });

  it('an unknown option gets a did-you-mean from its own command', async () => {
    const { result, stderr } = await run('dream', 'x.png', '--stepz', '3');
    expect(result).toBe(2);
    expect(stderr).toContain('unknown option --stepz (did you mean --steps?)');
    expect(stderr).toContain('unet-dream dream --help lists its options');
  });

  it('a number option given text names the flag and what the user typed', async () => {
    const a = await run('dream', 'x.png', '--octaves', 'abc');
    expect(a.result).toBe(2);
    expect(a.stderr.trim()).toBe('unet-dream: --octaves: expected a number, got "abc"');
    const b = await run('filters', '--steps=ten');
    expect(b.result).toBe(2);
    expect(b.stderr.trim()).toBe('unet-dream: --steps: expected a number, got "ten"');
  });
});

describe('--help', () => {
  for (const command of ['layers', 'filters', 'dream', 'batch', 'run', 'inspect', 'convert', 'train', 'eval']) {
    it(`${command} --help describes every option it lists and gives two examples`, async () => {
      const { result, stdout } = await help(command);
      expect(result).toBe(0);
      const lines = stdout.split('\n');
      const options = lines.filter((l) => /^\s+--[a-z]/.test(l));
      expect(options.length).toBeGreaterThan(1);
      // "  --name  description  [type]": a line with no text between the flag and its [type] is undescribed.
      const undescribed = options.filter((l) => /^\s+--[a-z-]+(, -\w)?\s+\[/.test(l) || /^\s+--[a-z-]+\s*$/.test(l));
      expect(undescribed).toEqual([]);
      const examples = stdout.slice(stdout.indexOf('Examples:'));
      expect(stdout).toContain('Examples:');
      expect(examples.split('\n').filter((l) => /^\s+unet-dream /.test(l)).length).toBeGreaterThanOrEqual(2);
    });
  }

  it('each command lists only the options it uses', async () => {
    const flags = async (command: string) => new Set([...(await help(command)).stdout.matchAll(/^\s+--([a-z-]+)/gm)].map((m) => m[1]));
    const inspect = await flags('inspect');
    for (const unused of ['model', 'backend', 'device', 'threads', 'seed', 'out']) expect(inspect.has(unused)).toBe(false);
    const convert = await flags('convert');
    for (const unused of ['model', 'device', 'threads', 'seed', 'out']) expect(convert.has(unused)).toBe(false);
    const layers = await flags('layers');
    for (const unused of ['device', 'threads', 'seed', 'out']) expect(layers.has(unused)).toBe(false);
    const train = await flags('train');
    for (const unused of ['model', 'architecture']) expect(train.has(unused)).toBe(false);
    expect((await flags('dream')).has('model')).toBe(true);
  });
});

describe('pipeline files', () => {
  it("resolves a file's relative input paths against its folder, --set values against the working directory", async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'conf'));
    const file = path.join(dir, 'conf', 'p.yaml');
    writeFileSync(file, 'model: { source: nets/m.json }\nseed: { inputs: [img.png, "../scan.nii#z=3", /abs/x.png], init: "image:seed.png" }\nascend: { mode: dream }\nwrite: { out: outs }\n');
    const { raw } = await readPipelineFile(file);
    const rel = (p: string) => path.relative(process.cwd(), p);
    expect((raw.model as { source: string }).source).toBe(rel(path.join(dir, 'conf', 'nets/m.json')));
    expect((raw.seed as { inputs: string[] }).inputs).toEqual([rel(path.join(dir, 'conf', 'img.png')), rel(path.join(dir, 'scan.nii#z=3')), '/abs/x.png']);
    expect((raw.seed as { init: string }).init).toBe(`image:${rel(path.join(dir, 'conf', 'seed.png'))}`);
    // The output folder is where the user runs, never inside the pipeline's (or an installed package's) folder.
    expect((raw.write as { out: string }).out).toBe('outs');
    expect((applyOverrides(raw, ['seed.inputs=[mine.png]']).seed as { inputs: string[] }).inputs).toEqual(['mine.png']);
  });

  it('runs the shipped dream-photo pipeline from another folder', async () => {
    const elsewhere = tempDir();
    const cwd = process.cwd();
    process.chdir(elsewhere);
    try {
      const { result, stderr } = await run('run', path.join(repo, 'pipelines', 'dream-photo.yaml'), '--set', 'ascend.octaves=1', '--set', 'ascend.steps=1', '--set', 'ascend.tile=128', '--out', 'o');
      expect(stderr).not.toMatch(/no such file/);
      expect(result).toBe(0);
      expect(existsSync(path.join(elsewhere, 'o', 'manifest.json'))).toBe(true);
      expect(existsSync(path.join(repo, 'pipelines', 'o'))).toBe(false);
      // PNGs carry a real density, not sharp's 1 pixel/mm (25.4 dpi) default for raw pixels.
      const pngs = readdirSync(path.join(elsewhere, 'o')).filter((f) => f.endsWith('.png'));
      expect(pngs.length).toBe(1);
      expect((await sharp(path.join(elsewhere, 'o', pngs[0]!)).metadata()).density).toBe(72);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses __proto__, constructor and prototype keys in --set and in files, and Object.prototype stays clean', async () => {
    for (const set of ['__proto__.polluted=1', 'ascend.__proto__.polluted=1', 'constructor.prototype.polluted=1', 'seed.prototype=1']) {
      expect(() => applyOverrides({}, [set])).toThrow(/refused key "(__proto__|constructor|prototype)"/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const dir = tempDir();
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, 'ascend:\n  mode: filters\n  __proto__: { polluted: 1 }\n  steps: 1\n');
    const r = await run('run', file, '--set', '__proto__.polluted=1');
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('--set __proto__.polluted=1: refused key "__proto__"');
    const f = await run('run', file);
    expect(f.result).toBe(2);
    expect(f.stderr).toContain(`${file}:3:3: ascend.__proto__: refused key "__proto__"`);
    writeFileSync(file, 'seed:\n  constructor: { prototype: { polluted: 1 } }\n');
    expect((await run('run', file)).stderr).toContain(`${file}:2:3: seed.constructor: refused key "constructor"`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('40,000 unknown keys: the first 20 and a count, quickly', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'many.yaml');
    const keys = Array.from({ length: 40_000 }, (_, i) => `  junk${i}: 1`).join('\n');
    writeFileSync(file, `ascend:\n  mode: filters\n${keys}\n`);
    const { raw, locate } = await readPipelineFile(file);
    let message = '';
    try {
      validatePipeline(raw, { locate });
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split('\n');
    expect(lines.length).toBe(21);
    expect(lines[0]).toContain(`${file}:3:3: ascend.junk0: unknown key "junk0"`);
    expect(lines[20]).toBe('... and 39980 more unknown keys in ascend');
    expect(message.length).toBeLessThan(20_000);
  });

  it('a duplicate key is still refused at its file:line:col', async () => {
    const file = path.join(tempDir(), 'dup.yaml');
    writeFileSync(file, 'ascend:\n  mode: filters\n  steps: 1\n  steps: 2\n');
    const { result, stderr } = await run('run', file);
    expect(result).toBe(2);
    expect(stderr.trim()).toBe(`unet-dream: ${file}:4:3: not valid YAML/JSON: duplicate key "steps"`);
  });

  it('a YAML alias bomb is a config error at file:line:col, exit 2', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bomb.yaml');
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    writeFileSync(file, `${levels.join('\n')}\n`);
    const { result, stderr } = await run('run', file);
    expect(result).toBe(2);
    expect(stderr.trim()).toMatch(new RegExp(`^unet-dream: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: refused: its aliases expand to more than 100 copies`));
    expect(stderr).not.toContain('internal error');
  });
});

describe('inspect', () => {
  it('prints failures on stderr; stdout keeps only the files that were read', async () => {
    const dir = tempDir();
    const bad = path.join(dir, 'broken.dcm');
    writeFileSync(bad, Buffer.alloc(200, 7));
    const good = path.join(repo, 'inputs', 'shepp-logan-256.png');
    const text = await run('inspect', good, bad);
    expect(text.result).toBe(1);
    expect(text.stdout).toContain('shepp-logan-256.png: png 256x256');
    expect(text.stdout).not.toContain('broken.dcm');
    expect(text.stderr).toMatch(/^unet-dream: .*broken\.dcm: /);
    const json = await run('inspect', good, bad, '--json');
    expect(json.result).toBe(1);
    const doc = JSON.parse(json.stdout);
    expect(doc.results[1]).toEqual({ input: bad, error: expect.stringContaining('broken.dcm') });
    expect(json.stderr).toContain('broken.dcm');
  });
});

