import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { createRng } from '../src/random.js';
import { createImage } from '../src/io/image.js';
import { writeImage } from '../src/io/write.js';
import { psnr, sheppLogan } from '../src/mri/index.js';
import { tempDir } from './helpers.js';

const shape = { width: 32, height: 32, channels: 1 };

describe('seeds (--init)', () => {
  it('noise seeds have the requested range and moments, and differ per stream', async () => {
    const uniform = await prepareInit(parseInit('uniform:0:2'));
    const a = uniform(shape, createRng(1));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(2);
    expect(Array.from(uniform(shape, createRng(2)))).not.toEqual(Array.from(a));
    const g = (await prepareInit(parseInit('gaussian:5:0.5')))({ ...shape, width: 64, height: 64 }, createRng(3));
    const mean = g.reduce((s, v) => s + v, 0) / g.length;
    const std = Math.sqrt(g.reduce((s, v) => s + (v - mean) ** 2, 0) / g.length);
    expect(mean).toBeCloseTo(5, 1);
    expect(std).toBeCloseTo(0.5, 1);
  });

  it('phantom seeds: Shepp-Logan exactly, random phantoms per stream, RGB models get grey replicated', async () => {
    const shepp = await prepareInit(parseInit('phantom:shepp-logan'));
    expect(Array.from(shepp(shape, createRng(1)))).toEqual(Array.from(sheppLogan(32)));
    const rgb = shepp({ ...shape, channels: 3 }, createRng(1));
    expect([rgb[3 * 300], rgb[3 * 300 + 1], rgb[3 * 300 + 2]]).toEqual([sheppLogan(32)[300], sheppLogan(32)[300], sheppLogan(32)[300]]);
    const random = await prepareInit(parseInit('phantom:random'));
    expect(Array.from(random(shape, createRng(4)))).not.toEqual(Array.from(random(shape, createRng(5))));
  });

  it('aliased seeds are the zero-filled reconstruction of an undersampled phantom or image', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'sl.png');
    await writeImage(createImage(64, 64, 1, sheppLogan(64).map((v) => v * 255), { format: 'png', dtype: 'uint8', bitDepth: 8 }), file);
    const clean = (await prepareInit(parseInit(`image:${file}`)))(shape, createRng(1));
    const aliased = (await prepareInit(parseInit(`aliased:${file}`), { acceleration: 4, center: 0.08 }))(shape, createRng(1));
    const p = psnr(clean, aliased, 1);
    expect(p).toBeGreaterThan(10);
    expect(p).toBeLessThan(35);
    const full = (await prepareInit(parseInit(`aliased:${file}`), { acceleration: 1, center: 0.08 }))(shape, createRng(1));
    expect(psnr(clean, full, 1)).toBeGreaterThan(60);
    await expect(prepareInit(parseInit('aliased:phantom')).then((f) => f({ width: 24, height: 24, channels: 1 }, createRng(1)))).rejects.toThrow(/power of two/);
  });

  it('image: takes a slice of a volume, or the middle slice of a DICOM folder sorted by position', async () => {
    const dir = tempDir();
    const series = path.join(dir, 'series');
    mkdirSync(series);
    // Three slices written out of order; their positions (z = 0, 5, 10) decide the order.
    for (const [i, z] of [[0, 10], [1, 0], [2, 5]] as const) {
      // z=0: ramp along x; z=5: ramp along y; z=10: ramp along both. Windowing keeps each pattern.
      const data = Float32Array.from({ length: 256 }, (_, p) => (z === 0 ? p % 16 : z === 5 ? Math.floor(p / 16) : (p % 16) + Math.floor(p / 16)) * 10);
      const image = createImage(16, 16, 1, data, { format: 'dicom', dtype: 'int16', bitDepth: 16, geometry: { affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 5, z], [0, 0, 0, 1]] } });
      await writeImage(image, path.join(series, `im${i}.dcm`));
    }
    const middle = await prepareInit(parseInit(`image:${series}`));
    const first = await prepareInit(parseInit(`image:${series}#slice=0`));
    const m = middle({ width: 16, height: 16, channels: 1 }, createRng(1));
    const f = first({ width: 16, height: 16, channels: 1 }, createRng(1));
    // The middle slice by position is z=5 (ramp along y): constant along each row.
    expect(m[0]).toBeCloseTo(m[15]!, 5);
    expect(m[15 * 16]).toBeGreaterThan(m[0]! + 0.5);
    // Slice 0 by position is z=0 (ramp along x): constant down each column.
    expect(f[0]).toBeCloseTo(f[15 * 16]!, 5);
    expect(f[15]).toBeGreaterThan(f[0]! + 0.5);
    await expect(prepareInit(parseInit(`image:${series}#slice=7`))).rejects.toThrow('slice 7 is out of range: the series holds 3 slices (0..2)');
  });

  it('rejects malformed seeds with the one message format', () => {
    expect(() => parseInit('perlin:3')).toThrow(/Expected one of uniform:LO:HI, gaussian:MEAN:STD, phantom:shepp-logan, phantom:random, image:PATH, aliased:phantom or aliased:PATH for init but received "perlin:3"/);
    expect(() => parseInit('phantom:cow')).toThrow(/Expected phantom:shepp-logan or phantom:random for init/);
    expect(() => parseInit('image:/no/such/file.png')).toThrow(/Expected an existing image file for init but received "image:\/no\/such\/file.png"/);
  });
});
