import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildReport, modeOf } from '../src/report/build.js';
import { curveSvg } from '../src/report/curve.js';
import { pngSize, pngSizeOf } from '../src/report/png-size.js';
import { FILTER_STEPS, run, tinyDreamRun, tinyFiltersRun } from './report-fixtures.js';
import { tempDir } from './helpers.js';
import { findChromium, launchChromium, openReport } from './report-browser.js';

type Rec = Record<string, any>;
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Rec;

/** Every src= and href= of the page: relative, and naming a file that exists (anchors excepted). */
function links(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]!).filter((l) => !l.startsWith('#'));
}

let filters: { out: string; stdout: string; code: number };
let dream: { out: string; inputs: string; stdout: string; code: number };

// Two real runs: a few seconds each on an idle machine, but give a busy one room.
beforeAll(async () => {
  filters = await tinyFiltersRun();
  dream = await tinyDreamRun();
}, 300_000);

describe('per-step objective values in the manifest', () => {
  it('filters: each filter has steps + 1 values from its start activation to its end one', () => {
    expect(filters.code).toBe(0);
    const { results } = readJson(path.join(filters.out, 'manifest.json'));
    expect(results).toHaveLength(6);
    for (const r of results) {
      expect(r.curve).toHaveLength(FILTER_STEPS + 1);
      // Stored to 6 significant digits.
      expect(Math.abs(r.curve[0] - r.activation.start)).toBeLessThanOrEqual(1e-5 * Math.abs(r.activation.start));
      expect(Math.abs(r.curve[FILTER_STEPS] - r.activation.end)).toBeLessThanOrEqual(1e-5 * Math.abs(r.activation.end));
      if (!r.dead) expect(r.curve[FILTER_STEPS]).toBeGreaterThan(r.curve[0]);
    }
  });

  it('dream: each octave has steps + 1 values from its start objective to its end one', () => {
    expect(dream.code).toBe(1); // missing.png
    const { results } = readJson(path.join(dream.out, 'manifest.json'));
    const ok = results.filter((r: Rec) => !r.error);
    expect(ok).toHaveLength(3);
    for (const r of ok) {
      expect(r.octaves).toHaveLength(2);
      for (const o of r.octaves) {
        expect(o.curve).toHaveLength(4);
        expect(o.curve[0]).toBeCloseTo(o.start, 6);
        expect(o.curve[3]).toBeCloseTo(o.end, 6);
      }
    }
  });
});

describe('figures and animations', () => {
  it('sheets carry 150 dpi, an SVG twin with vector text and a colour bar, and tile rectangles inside the sheet', async () => {
    const { results } = readJson(path.join(filters.out, 'manifest.json'));
    const meta = await sharp(path.join(filters.out, 'dconv64.png')).metadata();
    expect(meta.density).toBe(150);
    for (const r of results) {
      expect(r.rect.x + r.rect.width).toBeLessThanOrEqual(meta.width!);
      expect(r.rect.y + r.rect.height).toBeLessThanOrEqual(meta.height!);
    }
    const svg = readFileSync(path.join(filters.out, results[0].vector), 'utf8');
    expect(svg.match(/<image /g)).toHaveLength(3);
    expect(svg).toContain('<linearGradient id="colorbar"');
    expect(svg).not.toContain('<text');
    // The SVG's physical size is the PNG's at its 150 dpi, and librsvg (via sharp) renders it at that size.
    expect(svg).toContain(`width="${(meta.width! / 150).toFixed(3)}in"`);
    const rendered = await sharp(Buffer.from(svg), { density: 72 }).metadata();
    expect(rendered.width).toBe(Math.round((meta.width! / 150) * 72));
  });

  it('--animate writes one looping WebP per filter and per dream, with the recorded frames', async () => {
    const { results } = readJson(path.join(filters.out, 'manifest.json'));
    const live = results.filter((r: Rec) => !r.dead);
    expect(live.length).toBeGreaterThan(0);
    for (const r of results) {
      const meta = await sharp(path.join(filters.out, r.animation), { animated: true }).metadata();
      expect([meta.format, meta.width]).toEqual(['webp', 16]);
      // Every step recorded at 4 steps: the start, steps 1-3, the end. A dead filter never moves, and
      // the WebP encoder merges its identical frames into one still.
      if (!r.dead) expect([meta.pages, meta.pageHeight, meta.loop]).toEqual([FILTER_STEPS + 1, 16, 0]);
    }
    const dreams = readJson(path.join(dream.out, 'manifest.json')).results.filter((r: Rec) => !r.error);
    const nii = dreams.find((r: Rec) => r.input.endsWith('slice.nii.gz'));
    const meta = await sharp(path.join(dream.out, nii.animation), { animated: true }).metadata();
    // 2 octaves x 3 steps recorded every step, plus the start: 7 frames at the output's 32x32.
    expect([meta.pages, meta.width, meta.pageHeight]).toEqual([7, 32, 32]);
    const first = await sharp(path.join(dream.out, nii.animation), { page: 0 }).raw().toBuffer();
    const last = await sharp(path.join(dream.out, nii.animation), { page: 6 }).raw().toBuffer();
    expect(first.equals(last)).toBe(false);
  });
});

describe('index.html', () => {
  it('every run writes one, says where, and links only to files in its folder', () => {
    for (const { out, stdout } of [filters, dream]) {
      expect(stdout).toContain(`report: ${path.join(out, 'index.html')}`);
      const html = readFileSync(path.join(out, 'index.html'), 'utf8');
      expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
      const ls = links(html);
      expect(ls.length).toBeGreaterThan(5);
      for (const l of ls) expect(existsSync(path.join(out, decodeURIComponent(l))), l).toBe(true);
    }
  });

  it('filters: each tile is its sheet seen through its rectangle (nothing re-encoded), with its stats and curve', async () => {
    const { results } = readJson(path.join(filters.out, 'manifest.json'));
    const html = readFileSync(path.join(filters.out, 'index.html'), 'utf8');
    const meta = await sharp(path.join(filters.out, results[1].file)).metadata();
    const { x, y, width, height } = results[1].rect;
    const crop = new RegExp(`<span class="crop" style="aspect-ratio:${width}/${height}" data-rect="${x},${y},${width},${height}"><img src="${results[1].file}" alt="${results[1].layer} filter ${results[1].filter}" style="width:([\\d.]+)%;left:(-?[\\d.]+)%;top:(-?[\\d.]+)%"`);
    const m = crop.exec(html);
    expect(m).not.toBeNull();
    // Percentages of the tile's box: the sheet is sheet-width / tile-width boxes wide, shifted by the rectangle's corner.
    expect(Number(m![1])).toBeCloseTo((100 * meta.width!) / width, 3);
    expect(Number(m![2])).toBeCloseTo((-100 * x) / width, 3);
    expect(Number(m![3])).toBeCloseTo((-100 * y) / height, 3);
    expect(existsSync(path.join(filters.out, 'report'))).toBe(false);
    expect(html.match(/class="tile/g)).toHaveLength(6);
    expect(html.match(/<svg class="curve"/g)).toHaveLength(6);
    expect(html).toContain('activation start');
    expect(html).toContain('orientation');
    expect(html).toContain(readJson(path.join(filters.out, 'manifest.json')).model.sha256);
  });

  it('dream: input and output previews, octave table, curve, and the MR header next to the input\'s', async () => {
    const html = readFileSync(path.join(dream.out, 'index.html'), 'utf8');
    expect(html.match(/class="compare"/g)).toHaveLength(3);
    expect(html).toContain('Header of slice-nii-gz.nii.gz');
    expect(html).toContain('Header of slice-dcm.dcm');
    expect(html).toContain('transfer syntax');
    expect(html).toMatch(/Failed inputs[\s\S]*missing\.png/);
    const previews = readdirSync(path.join(dream.out, 'report')).filter((f) => f.endsWith('.png'));
    expect(previews).toHaveLength(6);
    // Input and output previews share the dream's window: the same size, different pixels.
    const first = previews.find((f) => f.endsWith('-input.png'))!;
    const a = await sharp(path.join(dream.out, 'report', first)).raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(path.join(dream.out, 'report', first.replace('-input', '-output'))).raw().toBuffer({ resolveWithObject: true });
    expect([a.info.width, a.info.height]).toEqual([b.info.width, b.info.height]);
    expect(a.data.equals(b.data)).toBe(false);
  });

  it('`report DIR` rebuilds it; a folder without a manifest is an input error naming the file', async () => {
    rmSync(path.join(filters.out, 'index.html'));
    const { result, stdout } = await run('report', filters.out);
    expect(result).toBe(0);
    expect(stdout).toMatch(/wrote .*index\.html/);
    expect(existsSync(path.join(filters.out, 'index.html'))).toBe(true);
    const empty = tempDir();
    await expect(buildReport(empty)).rejects.toThrow(`${path.join(empty, 'manifest.json')}: no manifest.json: not an unet-dream output folder`);
    const bad = await run('report', empty);
    expect(bad.result).toBe(1);
  });

  it('older and unknown manifests degrade: no curves or rectangles, or a mode it has no view for', async () => {
    const old = tempDir();
    const m = readJson(path.join(filters.out, 'manifest.json'));
    for (const r of m.results) for (const k of ['curve', 'rect', 'vector', 'animation']) delete r[k];
    delete m.config.ascend.mode;
    delete m.versions;
    writeFileSync(path.join(old, 'manifest.json'), JSON.stringify(m));
    expect(modeOf(m)).toBe('filters');
    await buildReport(old);
    const html = readFileSync(path.join(old, 'index.html'), 'utf8');
    expect(html).toContain('no per-step values in this manifest');
    expect(html.match(/class="tile/g)).toHaveLength(6);

    const other = tempDir();
    writeFileSync(path.join(other, 'manifest.json'), JSON.stringify({ command: 'dissect', config: { ascend: { mode: 'dissection' } }, results: [{ unit: 3, iou: 0.25 }] }));
    await buildReport(other);
    expect(readFileSync(path.join(other, 'index.html'), 'utf8')).toContain('&#34;iou&#34;: 0.25');
  });

  it('reads a PNG\'s size from its header alone, and nothing from other files', async () => {
    const png = await sharp({ create: { width: 7, height: 5, channels: 3, background: '#123456' } }).png().toBuffer();
    const jpeg = await sharp({ create: { width: 7, height: 5, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    expect(pngSizeOf(png.subarray(0, 24))).toEqual({ width: 7, height: 5 });
    expect(pngSizeOf(jpeg.subarray(0, 24))).toBeUndefined();
    expect(pngSizeOf(png.subarray(0, 20))).toBeUndefined();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.png'), png);
    expect(await pngSize(path.join(dir, 'a.png'))).toEqual({ width: 7, height: 5 });
    expect(await pngSize(path.join(dir, 'missing.png'))).toBeUndefined();
  });

  it('draws a curve through every value, scaled between its minimum and maximum', () => {
    const svg = curveSvg([1, 2, 4], { width: 148, height: 132 });
    // x from 48 to 140, y from 110 (min) to 10 (max).
    expect(svg).toContain('points="48.0,110.0 94.0,76.7 140.0,10.0"');
    expect(curveSvg([3])).toBe('');
  });
});

// ---- In a real browser ----

const chromium = findChromium();

describe.skipIf(!chromium)('the report in Chromium (file://)', () => {
  // One browser for both pages.
  let browser: import('puppeteer-core').Browser;
  beforeAll(async () => {
    browser = await launchChromium(chromium!);
    return () => browser.close();
  });
  const open = (dir: string, shot: string) => openReport(browser, dir, shot);

  it('filters: loads cleanly, every image decodes, a click zooms the tile, sorting reorders', async () => {
    const { page, errors, failed, images, shot } = await open(filters.out, 'screenshot-filters.png');
    try {
      expect(errors).toEqual([]);
      expect(failed).toEqual([]);
      expect(images.length).toBeGreaterThanOrEqual(2 + 6);
      for (const i of images) expect(i.width, i.src ?? '').toBeGreaterThan(0);
      expect(await page.$eval('#zoom', (z) => getComputedStyle(z).display)).toBe('none');
      const second = (await page.$$('.tile'))[1]!;
      const name = await second.evaluate((t) => t.getAttribute('data-name'));
      await second.click();
      expect(await page.$eval('#zoom', (z) => getComputedStyle(z).display)).toBe('flex');
      expect(await page.$eval('#zoom', (z) => z.getAttribute('data-showing'))).toBe(name);
      const zoomed = await page.$eval('#zoom .crop.big', (c) => ({ w: c.querySelector('img')!.naturalWidth, shown: c.getBoundingClientRect().width, src: c.querySelector('img')!.getAttribute('src'), rect: c.getAttribute('data-rect') }));
      expect(zoomed.w).toBeGreaterThan(0);
      expect(zoomed.shown).toBeGreaterThan(200); // 16-pixel tile shown large
      expect(zoomed.src).toBe(await second.evaluate((t) => t.querySelector('img')!.getAttribute('src')));
      // What the zoom shows is the tile's rectangle of the sheet: the centre of each enlarged pixel has the sheet pixel's colour.
      const [x, y, w, h] = zoomed.rect!.split(',').map(Number) as [number, number, number, number];
      const shotOfZoom = await (await page.$('#zoom .crop.big'))!.screenshot({ encoding: 'binary' });
      const seen = await sharp(Buffer.from(shotOfZoom)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const sheet = await sharp(path.join(filters.out, zoomed.src!)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const border = 1;
      const scale = (seen.info.width - 2 * border) / w;
      let worst = 0;
      for (let j = 0; j < h; j++) {
        for (let i = 0; i < w; i++) {
          const sx = Math.floor(border + (i + 0.5) * scale);
          const sy = Math.floor(border + (j + 0.5) * scale);
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(seen.data[(sy * seen.info.width + sx) * 3 + c]! - sheet.data[((y + j) * sheet.info.width + x + i) * 3 + c]!));
        }
      }
      expect(worst).toBeLessThanOrEqual(3);
      expect(await page.$$eval('#zoom svg.curve polyline', (p) => p.length)).toBe(1);
      await page.screenshot({ path: shot });
      await page.keyboard.press('Escape');
      expect(await page.$eval('#zoom', (z) => getComputedStyle(z).display)).toBe('none');
      // Sort the first layer by final activation: the grid's order follows the values, highest first.
      await page.select('select.sort[data-grid="grid-0"]', 'activation');
      const order = await page.$$eval('#grid-0 .tile', (ts) => ts.map((t) => parseFloat(t.getAttribute('data-activation') || '-Infinity')));
      expect(order).toEqual([...order].sort((a, b) => b - a));
      expect((await sharp(shot).metadata()).width).toBe(1200);
    } finally {
      await page.close();
    }
  });

  it('dream: loads cleanly, every image decodes, the slider moves the split', async () => {
    const { page, errors, failed, images, shot } = await open(dream.out, 'screenshot-dream.png');
    try {
      expect(errors).toEqual([]);
      expect(failed).toEqual([]);
      expect(images.length).toBeGreaterThanOrEqual(6);
      for (const i of images) expect(i.width, i.src ?? '').toBeGreaterThan(0);
      // The left inset of the dream's clip, in percent of its width.
      const clip = () => page.$eval('.compare img.after', (i) => parseFloat(/(-?[\d.]+)%\)$/.exec((i as HTMLElement).style.clipPath)?.[1] ?? 'NaN'));
      expect(await clip()).toBe(50);
      // Drag the slider thumb to the left end: the dream then covers the whole frame.
      const slider = (await page.$$('input.slider'))[0]!;
      await slider.scrollIntoView();
      const box = (await slider.boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + 1, box.y + box.height / 2, { steps: 5 });
      await page.mouse.up();
      expect(await clip()).toBeLessThan(5);
      await page.screenshot({ path: shot, fullPage: true });
      expect(existsSync(shot)).toBe(true);
    } finally {
      await page.close();
    }
  });
});
