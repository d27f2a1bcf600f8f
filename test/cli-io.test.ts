import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { createImage } from '../src/io/image.js';
import { writeImage } from '../src/io/write.js';
import { readImages } from '../src/io/read.js';
import { sheppLogan } from '../src/mri/index.js';
import { captureOutput, tempDir } from './helpers.js';

const run = (...argv: string[]) => captureOutput(() => main(argv));

describe('inspect, dream, convert from the command line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('unet-dream-cli-io-');
    const mr = sheppLogan(32).map((v) => Math.round(v * 1000));
    await writeImage(createImage(32, 32, 1, mr, { format: 'nifti', dtype: 'int16', bitDepth: 16 }), path.join(dir, 'slice.nii.gz'));
    await writeImage(createImage(32, 32, 1, mr, { format: 'dicom', dtype: 'int16', bitDepth: 16 }), path.join(dir, 'slice.dcm'));
    const rgb = new Float32Array(40 * 24 * 3);
    for (let i = 0; i < 40 * 24; i++) rgb.set([(i * 7) % 256, (i * 3) % 256, 200], i * 3);
    await writeImage(createImage(40, 24, 3, rgb, { format: 'png', dtype: 'uint8', bitDepth: 8 }), path.join(dir, 'photo.png'));
    writeFileSync(path.join(dir, 'broken.dcm'), Buffer.alloc(300, 7));
  });

  it('inspect --json describes each input, and a bad one with its reason (exit 1)', async () => {
    const { result, stdout } = await run('inspect', path.join(dir, 'slice.nii.gz'), path.join(dir, 'photo.png'), path.join(dir, 'broken.dcm'), '--json');
    expect(result).toBe(1);
    const { results } = JSON.parse(stdout);
    expect(results[0]).toMatchObject({ format: 'nifti', width: 32, height: 32, slices: 1, min: 0, max: 1000 });
    expect(results[1]).toMatchObject({ format: 'png', width: 40, height: 24, channels: 3, dtype: 'uint8', min: 0, max: 255 });
    expect(results[2].input).toBe(path.join(dir, 'broken.dcm'));
    expect(results[2].error).toMatch(/broken\.dcm: /);
  });

  it('dream writes MR slices in their own format and photos as PNG, keeping size; a bad input fails alone', async () => {
    const out = tempDir();
    const { result, stdout } = await run('dream', path.join(dir, 'slice.nii.gz'), path.join(dir, 'slice.dcm'), path.join(dir, 'photo.png'), path.join(dir, 'missing.png'), '--layers', 'dconv128', '--octaves', '2', '--steps', '2', '--step', '0.05', '--jitter', '2', '--out', out, '--backend', 'wasm');
    expect(result).toBe(1);
    expect(stdout).toMatch(/dreamed 3 of 4 inputs/);
    // slice.nii.gz and slice.dcm share a base name: each carries its extension (docs/INPUTS.md, "Output names").
    expect(readdirSync(out).sort()).toEqual(['index.html', 'manifest.json', 'photo.png', 'report', 'slice-dcm.dcm', 'slice-nii-gz.nii.gz']);
    const [nii] = await readImages(path.join(out, 'slice-nii-gz.nii.gz'));
    expect([nii!.width, nii!.height, nii!.meta.format]).toEqual([32, 32, 'nifti']);
    const [dcm] = await readImages(path.join(out, 'slice-dcm.dcm'));
    expect(dcm!.meta.format).toBe('dicom');
    expect(dcm!.meta.dicom!.dataset.ImageType).toEqual(expect.arrayContaining(['DERIVED', 'SECONDARY']));
    const [photo] = await readImages(path.join(out, 'photo.png'));
    expect([photo!.width, photo!.height, photo!.channels]).toEqual([40, 24, 3]);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const missing = manifest.results.find((r: { input: string }) => r.input.endsWith('missing.png'));
    expect(missing.error).toContain('no such file or directory');
    for (const r of manifest.results.filter((x: { error?: string }) => !x.error)) {
      expect(r.octaves).toHaveLength(2);
      for (const o of r.octaves) expect(o.end).toBeGreaterThan(o.start);
    }
  });

  it('dream on luminance keeps the photo\'s chroma', async () => {
    const out = tempDir();
    await run('dream', path.join(dir, 'photo.png'), '--layers', 'dconv64', '--octaves', '1', '--steps', '3', '--step', '0.1', '--out', out, '--backend', 'wasm');
    const [before] = await readImages(path.join(dir, 'photo.png'));
    const [after] = await readImages(path.join(out, 'photo.png'));
    // Cb is unchanged up to 8-bit rounding wherever no channel clipped.
    let compared = 0;
    for (let i = 0; i < 40 * 24; i++) {
      const px = (im: typeof before) => [im!.data[i * 3]!, im!.data[i * 3 + 1]!, im!.data[i * 3 + 2]!];
      const [r1, g1, b1] = px(before);
      const [r2, g2, b2] = px(after);
      if ([r2, g2, b2].some((v) => v <= 0 || v >= 255)) continue;
      const cb = (r: number, g: number, b: number) => -0.168736 * r - 0.331264 * g + 0.5 * b;
      expect(Math.abs(cb(r1!, g1!, b1!) - cb(r2!, g2!, b2!))).toBeLessThan(1.5);
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
    const changed = Array.from(after!.data).filter((v, i) => Math.abs(v - before!.data[i]!) > 2).length;
    expect(changed).toBeGreaterThan(100);
  });

  it('convert round-trips the U-Net through a Keras .h5 and a TensorFlow.js folder', async () => {
    const out = tempDir();
    const h5 = path.join(out, 'unet.h5');
    let r = await run('convert', 'builtin', h5, '--to', 'h5', '--json');
    expect(r.result).toBe(0);
    const first = JSON.parse(r.stdout);
    r = await run('convert', h5, path.join(out, 'tfjs'), '--json');
    expect(r.result).toBe(0);
    r = await run('layers', '--model', path.join(out, 'tfjs', 'model.json'), '--json');
    const table = JSON.parse(r.stdout);
    expect(table.totalParams).toBe(2881217);
    const again = await run('convert', path.join(out, 'tfjs'), path.join(out, 'again.h5'), '--to', 'h5', '--json');
    expect(JSON.parse(again.stdout).sha256).toBe(first.sha256);
  });

  it('auto falls back to tfjs with one line naming a layer ONNX cannot compile', async () => {
    const { tf } = await import('../src/tf.js');
    const { saveLayersModel } = await import('../src/model/tfjs-files.js');
    const input = tf.input({ shape: [null, null, 1] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }).apply(input) as import('@tensorflow/tfjs').SymbolicTensor;
    const norm = tf.layers.layerNormalization({ name: 'my_norm' }).apply(conv) as import('@tensorflow/tfjs').SymbolicTensor;
    const dir = tempDir();
    await saveLayersModel(tf.model({ inputs: input, outputs: norm }), dir);
    const { result, stderr } = await run('filters', '--model', dir, '--layers', 'my_norm', '--filters', '0-1', '--steps', '2', '--size', '16', '--workers', '1', '--out', tempDir());
    expect(result).toBe(0);
    const lines = stderr.split('\n').filter((l) => l.startsWith('warning') && l.includes('my_norm'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/warning: .*"my_norm" \(LayerNormalization\).*; using tfjs on wasm/);
  });
});
