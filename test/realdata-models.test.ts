/** Filter visualization on the real Keras files in ../shared/realdata (skipped, saying so, when absent). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

const keras = path.resolve(import.meta.dirname, '..', '..', 'shared', 'realdata', 'keras');
const present = existsSync(keras);
if (!present) console.warn(`skipping real-model filter tests: ${keras} is absent`);

describe.skipIf(!present)('filters on real Keras models', () => {
  it('LeNet (28x28, Reshape + Dense): runs at its own size, every filter rises; another size is refused', async () => {
    const out = tempDir();
    const { result, stdout } = await captureOutput(() =>
      main(['filters', '--model', path.join(keras, 'tensorspace_mnist_lenet.h5'), '--layers', 'Conv2D_1,Conv2D_2', '--filters', 'all', '--steps', '10', '--workers', '1', '--out', out, '--json']),
    );
    expect(result).toBe(0);
    const manifest = JSON.parse(stdout);
    expect(manifest.config.seed.size).toBe(28);
    expect(manifest.results).toHaveLength(6 + 16);
    for (const r of manifest.results) expect(r.activation.end).toBeGreaterThan(r.activation.start);
    const bad = await captureOutput(() => main(['filters', '--model', path.join(keras, 'tensorspace_mnist_lenet.h5'), '--layers', 'Conv2D_1', '--size', '32', '--out', tempDir()]));
    expect(bad.result).toBe(2);
    expect(bad.stderr).toContain('size 32 cannot be used with this model: layer "reshape_1" (Reshape) ties the model to the side it was built with, 28, not 32 (try 28)');
  });

  it('MTCNN P-Net (3 channels, PReLU, any size): RGB tiles at a chosen size', async () => {
    const out = tempDir();
    const { result } = await captureOutput(() =>
      main(['filters', '--model', path.join(keras, 'dl4j_12net_mtcnn.h5'), '--layers', 'conv1,conv3', '--filters', '0-3', '--size', '24', '--steps', '10', '--workers', '1', '--out', out]),
    );
    expect(result).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    for (const r of manifest.results) expect(r.activation.end).toBeGreaterThan(r.activation.start);
    const { info, data } = await sharp(path.join(out, 'conv1.png')).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    // Colour tiles: somewhere in the sheet the three channels differ.
    let coloured = 0;
    for (let i = 0; i < data.length; i += 3) if (Math.abs(data[i]! - data[i + 1]!) > 20 || Math.abs(data[i + 1]! - data[i + 2]!) > 20) coloured++;
    expect(coloured).toBeGreaterThan(1000);
  });
});
