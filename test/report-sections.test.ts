/**
 * The report's sections for activations, attribute and examples runs and for the dissect, ablate and
 * prune commands: tiny real runs (one beforeAll), their index.html read as text, then opened in
 * Chromium from file:// (no console errors, no failed requests, every image decoded, sliders and
 * sortable tables work).
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildReport, modeOf } from '../src/report/build.js';
import { channelStats } from '../src/report/activations.js';
import { decodeNpy } from '../src/io/npy.js';
import { createImage } from '../src/io/image.js';
import { writeImage } from '../src/io/write.js';
import { sheppLogan } from '../src/mri/index.js';
import { runPipeline } from '../src/pipeline/run.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { findChromium, launchChromium, openReport } from './report-browser.js';
import { run } from './report-fixtures.js';
import { tempDir } from './helpers.js';

type Rec = Record<string, any>;
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Rec;
const html = (dir: string) => readFileSync(path.join(dir, 'index.html'), 'utf8');
const pipeline = (raw: Record<string, unknown>) => runPipeline(validatePipeline(raw), { command: 'run' });

/** Every src= and href= of the page that is not an anchor: each names a file inside the folder. */
function expectLinksInside(dir: string): void {
  const page = html(dir);
  expect(page).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  for (const m of page.matchAll(/\s(?:src|href)="([^"#][^"]*)"/g)) expect(existsSync(path.join(dir, decodeURIComponent(m[1]!))), m[1]).toBe(true);
}

const dirs = { activations: '', attribute: '', examples: '', analysis: '', pruned: '' };
let inputs: string;

beforeAll(async () => {
  inputs = tempDir('unet-dream-sections-inputs-');
  const mr = sheppLogan(32).map((v) => Math.round(v * 1000));
  // 1.5 mm pixels, 3 mm slice: a geometry, so activations also writes its maps as a NIfTI volume.
  const affine = [
    [1.5, 0, 0, -24],
    [0, 1.5, 0, -24],
    [0, 0, 3, 0],
    [0, 0, 0, 1],
  ];
  await writeImage(createImage(32, 32, 1, mr, { format: 'nifti', dtype: 'int16', bitDepth: 16, geometry: { affine } }), path.join(inputs, 'slice.nii.gz'));
  for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[k] = tempDir(`unet-dream-sections-${k}-`);
  const model = { backend: 'onnx' };
  await pipeline({ model, seed: { inputs: [path.join(inputs, 'slice.nii.gz'), 'phantom:shepp-logan:32'] }, ascend: { mode: 'activations', layers: ['dconv64', 'uconv128'], channels: 'top:4' }, write: { out: dirs.activations } });
  await pipeline({
    model,
    seed: { inputs: [path.join(inputs, 'slice.nii.gz'), 'phantom:random:3:32', path.join(inputs, 'missing.nii.gz')] },
    ascend: { mode: 'attribute', method: 'integrated-gradients', steps: 4, batch: 4 },
    write: { out: dirs.attribute },
  });
  await pipeline({ model, seed: { phantoms: 3, size: 32 }, ascend: { mode: 'examples', layers: ['dconv64'], filters: '0-1', top: 2, steps: 2 }, write: { out: dirs.examples } });
  // dissect and ablate share a folder, as prune's --scores expects; each rewrites manifest.json and index.html.
  const small = ['--size', '16', '--seed', '3'];
  const d = await run('dissect', '--layers', 'dconv64,uconv64', '--phantoms', '4', '--sheet-top', '3', '--sheet-steps', '2', '--out', dirs.analysis, ...small);
  if (d.result !== 0) throw new Error(`dissect failed: ${d.stderr}`);
  writeFileSync(path.join(dirs.analysis, 'dissect-index.html'), html(dirs.analysis));
  const a = await run('ablate', '--layers', 'uconv64', '--n', '4', '--out', dirs.analysis, ...small);
  if (a.result !== 0) throw new Error(`ablate failed: ${a.stderr}`);
  const p = await run('prune', '--keep', '0.5', '--layers', 'uconv64', '--scores', dirs.analysis, '--n', '4', '--out', dirs.pruned, ...small);
  if (p.result !== 0) throw new Error(`prune failed: ${p.stderr}`);
}, 600_000);

describe('report sections, as written', () => {
  it('activations: per input and layer, the sheet, every channel\'s stats from the raw map, and links to .npy and NIfTI', () => {
    const m = readJson(path.join(dirs.activations, 'manifest.json'));
    expect(modeOf(m)).toBe('activations');
    const page = html(dirs.activations);
    const layer = m.results[0].layers[0];
    expect(page).toContain(`src="${layer.sheet}"`);
    expect(page).toContain(`href="${layer.npy}"`);
    expect(page).toContain(`href="${layer.nifti}"`);
    // The top channel named on the page is the one with the highest mean over the whole raw map.
    const { data, shape } = decodeNpy(readFileSync(path.join(dirs.activations, layer.npy)));
    const stats = channelStats(data, shape);
    expect(stats).toHaveLength(layer.channels);
    const top = [...stats].sort((a, b) => b.mean - a.mean)[0]!;
    // The manifest's means of the shown channels (top:4) are the same numbers, computed by the run.
    expect(top.mean).toBeCloseTo(Math.max(...layer.shown.map((s: Rec) => s.mean)), 5);
    expect(page).toContain(`Top 5 channels by mean activation: <strong>#${top.channel}</strong>`);
    expect(page.match(/class="layer"/g)).toHaveLength(4);
    expectLinksInside(dirs.activations);
  });

  it('attribute: input preview and overlay under a slider, the map alone, raw and native links, failures listed', async () => {
    const m = readJson(path.join(dirs.attribute, 'manifest.json'));
    expect(modeOf(m)).toBe('attribute');
    const page = html(dirs.attribute);
    expect(page.match(/class="compare"/g)).toHaveLength(2);
    const nii = m.results.find((r: Rec) => r.native);
    expect(page).toContain(`href="${nii.native}"`);
    expect(page).toContain(`href="${nii.npy}"`);
    expect(page).toMatch(/Failed inputs[\s\S]*missing\.nii\.gz/);
    // The input preview is the grey the overlay was drawn on: where the map is ~0 the overlay shows the input's own grey.
    const i = m.results.indexOf(nii);
    const preview = await sharp(path.join(dirs.attribute, 'report', `attribute-${i}-input.png`)).raw().toBuffer({ resolveWithObject: true });
    const overlay = await sharp(path.join(dirs.attribute, nii.overlay)).raw().toBuffer({ resolveWithObject: true });
    const map = decodeNpy(readFileSync(path.join(dirs.attribute, nii.npy))).data;
    expect([preview.info.width, preview.info.height]).toEqual([overlay.info.width, overlay.info.height]);
    const abs = Float32Array.from(map, Math.abs).sort();
    const scale = abs[Math.floor(0.99 * abs.length)]!;
    let compared = 0;
    for (let p = 0; p < map.length; p++) {
      if (Math.abs(map[p]!) > 0.01 * scale) continue;
      compared++;
      // alpha <= 0.75 %: the overlay differs from the grey by at most ~2 levels there.
      expect(Math.abs(overlay.data[p * overlay.info.channels]! - preview.data[p * preview.info.channels]!)).toBeLessThanOrEqual(3);
    }
    expect(compared).toBeGreaterThan(10);
    expect(page).toContain('relative error');
    expectLinksInside(dirs.attribute);
  });

  it('examples: per layer the sheet and a table of every patch with its source and position', () => {
    const m = readJson(path.join(dirs.examples, 'manifest.json'));
    expect(modeOf(m)).toBe('examples');
    const page = html(dirs.examples);
    const layer = m.results[0];
    expect(page).toContain(`src="${layer.sheet}"`);
    const patches = layer.filters.flatMap((f: Rec) => f.patches);
    expect(patches.length).toBe(4);
    expect(page.match(/<tr><td data-v/g)).toHaveLength(patches.length);
    const p = patches[0];
    expect(page).toContain(`${p.center[0]}, ${p.center[1]}`);
    expect(page).toContain(p.source);
    expectLinksInside(dirs.examples);
  });

  it('dissect: the label table with counts and mean IoU, sheets ordered by best aliasing IoU', () => {
    const page = readFileSync(path.join(dirs.analysis, 'dissect-index.html'), 'utf8');
    const json = readJson(path.join(dirs.analysis, 'dissect.json'));
    const best = json.layers.map((l: Rec) => ({ layer: l.layer, best: Math.max(...l.units.map((u: Rec) => u.aliasingIoU)) }));
    const order = [...best].sort((a, b) => b.best - a.best).map((b) => b.layer);
    const sections = [...page.matchAll(/<section id="dissect-\d+"><h2>([^<]+)<\/h2>/g)].map((x) => x[1]);
    expect(sections).toEqual(order);
    for (const l of json.layers) {
      expect(page).toContain(`src="dissect-${l.layer}.png"`);
      for (const label of ['aliasing', 'edge', 'both', 'neither', 'dead']) expect(page).toContain(`<th tabindex="0" title="sort by ${label}">`);
      // Counts per label add up to the layer's filters.
      expect(Object.values(l.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(l.filters);
    }
    expect(page.match(/<tr><td data-v/g)!.length).toBe(2 + json.layers.reduce((s: number, l: Rec) => s + l.units.length, 0));
  });

  it('ablate: the importance plot and the filters, most important first', () => {
    const m = readJson(path.join(dirs.analysis, 'manifest.json'));
    expect(modeOf(m)).toBe('ablate');
    const page = html(dirs.analysis);
    expect(page).toContain('src="ablate-uconv64.png"');
    const ab = readJson(path.join(dirs.analysis, 'ablate-uconv64.json'));
    const filters = [...page.matchAll(/<tr><td data-v="(\d+)">\d+<\/td><td data-v="(\d+)">/g)].map((x) => Number(x[2]));
    expect(filters).toEqual(ab.order);
    expectLinksInside(dirs.analysis);
  });

  it('prune: parameters before and after, scores, kept and removed filters per layer', () => {
    const p = readJson(path.join(dirs.pruned, 'prune.json'));
    const page = html(dirs.pruned);
    expect(page).toContain(p.paramsBefore.toLocaleString('en-US'));
    expect(page).toContain(p.paramsAfter.toLocaleString('en-US'));
    const removed = p.layers[0].remove as number[];
    expect(removed).toHaveLength(32);
    expect(page.match(/<section id="prune-0">[\s\S]*?<\/section>/)![0].match(/<tr>/g)).toHaveLength(1 + removed.length);
    expect(page).toMatch(/<td data-v="32">32<\/td><td data-v="32">32<\/td>/); // kept, removed
    expectLinksInside(dirs.pruned);
  });

  it('`report DIR` on the examples command\'s own manifest (layers, no mode) gives the same section', async () => {
    const own = tempDir('unet-dream-sections-examples-own-');
    cpSync(dirs.examples, own, { recursive: true });
    const m = readJson(path.join(own, 'manifest.json'));
    const { results, ...rest } = m;
    writeFileSync(path.join(own, 'manifest.json'), JSON.stringify({ ...rest, command: 'examples', config: { synthetic: true, top: 2 }, layers: results }));
    await buildReport(own);
    const section = (page: string) => page.slice(page.indexOf('<section id="layer-0">'), page.indexOf('</section>', page.indexOf('<section id="layer-0">')));
    expect(section(html(own))).toBe(section(html(dirs.examples)));
    expect(section(html(own)).length).toBeGreaterThan(500);
  });

  it('`report DIR` rebuilds a prune folder from prune.json, which has no manifest.json', async () => {
    expect(existsSync(path.join(dirs.pruned, 'manifest.json'))).toBe(false);
    const before = html(dirs.pruned);
    const r = await buildReport(dirs.pruned);
    expect(html(dirs.pruned)).toBe(before);
    expect(r.file).toBe(path.join(dirs.pruned, 'index.html'));
  });
});

const chromium = findChromium();

describe.skipIf(!chromium)('report sections in Chromium (file://)', () => {
  // One browser for every page of this file; each test opens and closes its own pages.
  let browser: import('puppeteer-core').Browser;
  beforeAll(async () => {
    browser = await launchChromium(chromium!);
    return () => browser.close();
  });

  const clean = async (dir: string, shot: string, images = 1) => {
    const opened = await openReport(browser, dir, shot);
    expect(opened.errors).toEqual([]);
    expect(opened.failed).toEqual([]);
    expect(opened.images.length).toBeGreaterThanOrEqual(images);
    for (const i of opened.images) expect(i.width, i.src ?? '').toBeGreaterThan(0);
    return opened;
  };

  /** Clicks a sortable table's column header and returns that column's values in row order. */
  const sortBy = async (page: import('puppeteer-core').Page, table: string, column: number) => {
    await page.$eval(`${table} th:nth-child(${column + 1})`, (th) => (th as HTMLElement).click());
    return page.$$eval(`${table} tbody tr`, (rows, c) => rows.map((r) => Number((r as HTMLTableRowElement).cells[c as number]!.getAttribute('data-v'))), column);
  };

  it('activations and examples: load cleanly; channel and patch tables sort on a header click', async () => {
    for (const [dir, table, column] of [
      [dirs.activations, '#input-0-layer-0-channels', 1],
      [dirs.examples, '#layer-0-patches', 2],
    ] as const) {
      const { page, shot } = await clean(dir, 'screenshot.png');
      try {
        const desc = await sortBy(page, table, column);
        expect(desc.length).toBeGreaterThan(1);
        expect(desc).toEqual([...desc].sort((a, b) => b - a));
        const asc = await sortBy(page, table, column);
        expect(asc).toEqual([...desc].reverse());
        await page.screenshot({ path: shot, fullPage: true });
      } finally {
        await page.close();
      }
    }
  });

  it('attribute: loads cleanly; the slider moves the split between input and overlay', async () => {
    const { page, shot } = await clean(dirs.attribute, 'screenshot.png');
    try {
      const clip = () => page.$eval('.compare img.after', (i) => parseFloat(/(-?[\d.]+)%\)$/.exec((i as HTMLElement).style.clipPath)?.[1] ?? 'NaN'));
      expect(await clip()).toBe(50);
      const slider = (await page.$$('input.slider'))[0]!;
      await slider.scrollIntoView();
      const box = (await slider.boundingBox())!;
      await page.mouse.click(box.x + box.width * 0.9, box.y + box.height / 2);
      expect(await clip()).toBeGreaterThan(80);
      await page.screenshot({ path: shot, fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('dissect, ablate and prune: load cleanly; their tables sort', async () => {
    // The dissect page as the dissect command wrote it (ablate then rewrote index.html in the shared folder).
    const d = await openReport(browser, dirs.analysis, 'screenshot-dissect.png', 'dissect-index.html');
    try {
      expect([d.errors, d.failed]).toEqual([[], []]);
      expect(d.images.length).toBe(2);
      for (const i of d.images) expect(i.width, i.src ?? '').toBeGreaterThan(0);
      const best = await sortBy(d.page, '#labels', 9);
      expect(best).toEqual([...best].sort((a, b) => b - a));
      await d.page.screenshot({ path: d.shot, fullPage: true });
    } finally {
      await d.page.close();
    }
    const a = await clean(dirs.analysis, 'screenshot.png');
    try {
      const dp = await sortBy(a.page, '#ablate-0-filters', 2);
      expect(dp).toEqual([...dp].sort((x, y) => y - x));
      await a.page.screenshot({ path: a.shot, fullPage: true });
    } finally {
      await a.page.close();
    }
    const p = await clean(dirs.pruned, 'screenshot.png', 0);
    try {
      expect(await sortBy(p.page, '#prune-layers', 3)).toEqual([32]);
      await p.page.screenshot({ path: p.shot, fullPage: true });
    } finally {
      await p.page.close();
    }
  });
});
