import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderSheet, renderSheetSvg, sheetGeometry } from '../src/render/sheet.js';
import { WINDOW_MODES, WINDOW_MODE_NAMES, minMaxWindow, percentileWindow, renderTile } from '../src/render/tile.js';
import { encodeAnimation, recordInterval } from '../src/render/animate.js';
import { colormap } from '../src/render/colormap.js';

function gradientTile(size: number, offset = 0): Float32Array {
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = (i % size) + offset;
  return data;
}

describe('colormaps', () => {
  it("viridis matches matplotlib's endpoints; gray is linear", () => {
    const v = colormap('viridis');
    expect(Array.from(v.slice(0, 3))).toEqual([0x44, 0x01, 0x54]);
    expect(Array.from(v.slice(255 * 3))).toEqual([0xfd, 0xe7, 0x25]);
    const g = colormap('gray');
    expect(Array.from(g.slice(128 * 3, 128 * 3 + 3))).toEqual([128, 128, 128]);
    expect(() => colormap('jet')).toThrow('unknown colormap "jet"; valid colormaps: viridis, magma, rdbu, gray');
  });
});

describe('tiles', () => {
  it('min-max normalises each tile to the full colormap range', () => {
    const data = gradientTile(4, 10); // values 10..13
    const w = minMaxWindow(data);
    expect(w).toEqual({ low: 10, high: 13 });
    const rgb = renderTile(data, 4, 4, 1, w, 'gray');
    expect(rgb.data[0]).toBe(0);
    expect(rgb.data[3 * 3]).toBe(255);
  });

  it('renders a flat image mid-range instead of dividing by zero', () => {
    const rgb = renderTile(new Float32Array(4).fill(2), 2, 2, 1, minMaxWindow(new Float32Array(4).fill(2)), 'gray');
    expect(rgb.data[0]).toBe(128);
  });

  it('shows three-channel images as RGB', () => {
    const data = Float32Array.from([1, 0, 0, 0, 1, 0]);
    const rgb = renderTile(data, 2, 1, 3, { low: 0, high: 1 }, 'viridis');
    expect(Array.from(rgb.data)).toEqual([255, 0, 0, 0, 255, 0]);
  });
});

describe('contact sheets', () => {
  it('lays out 16 tiles as 2x8 under a title, each with a label row', () => {
    const g = sheetGeometry(16, 128, 128, { columns: 8 });
    expect([g.columns, g.rows, g.tileWidth]).toEqual([8, 2, 128]);
    expect(g.width).toBe(6 + 8 * (128 + 6));
    expect(g.height).toBe(40 + 2 * (128 + 18 + 6));
    expect(g.origins[8]).toEqual({ x: 6, y: 40 + 128 + 18 + 6 });
    expect(sheetGeometry(5, 128, 128, { columns: 8 }).columns).toBe(5);
    expect(sheetGeometry(3, 28, 28, { columns: 8 }).tileWidth).toBe(112); // small tiles enlarged x4
  });

  it('writes a PNG of that geometry with the tiles at their places and real text', async () => {
    const tiles = Array.from({ length: 16 }, (_, i) => ({
      image: renderTile(new Float32Array(32 * 32).fill(i), 32, 32, 1, { low: 0, high: 15 }, 'gray'),
      label: `#${i}  ${i}.00`,
    }));
    const { png, geometry } = await renderSheet(tiles, { title: 'dconv64', columns: 8 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([geometry.width, geometry.height]);
    const pixel = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    // Tile 15 (white) and tile 0 (black) at their origins.
    const o15 = geometry.origins[15]!;
    expect(pixel(o15.x + 5, o15.y + 5)).toEqual([255, 255, 255]);
    const o0 = geometry.origins[0]!;
    expect(pixel(o0.x + 5, o0.y + 5)).toEqual([0, 0, 0]);
    // Text: the title band and the label rows have dark glyph pixels, and different labels differ.
    const darkIn = (x0: number, y0: number, w: number, h: number) => {
      let n = 0;
      for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (pixel(x, y)[0]! < 128) n++;
      return n;
    };
    expect(darkIn(0, 0, info.width, 38)).toBeGreaterThan(40);
    const labelBand = (i: number) => {
      const o = geometry.origins[i]!;
      const pixels: number[] = [];
      for (let y = o.y + geometry.tileHeight + 1; y < o.y + geometry.tileHeight + 17; y++) for (let x = o.x; x < o.x + geometry.tileWidth; x++) pixels.push(pixel(x, y)[0]!);
      return pixels;
    };
    expect(labelBand(1).filter((v) => v < 128).length).toBeGreaterThan(15);
    expect(labelBand(1)).not.toEqual(labelBand(7));
  });
});

describe('figures for a paper', () => {
  it('p1-99 windows each tile between its percentiles: one outlier no longer flattens the rest', () => {
    const data = new Float32Array(1000);
    for (let i = 0; i < data.length; i++) data[i] = i / 999; // 0..1
    data[500] = 1000; // one hot pixel
    const w = WINDOW_MODES['p1-99']!.window([data], 0);
    expect(w.low).toBeCloseTo(0.01, 2);
    expect(w.high).toBeCloseTo(0.99, 2);
    expect(minMaxWindow(data).high).toBe(1000);
    expect(percentileWindow(1, 99, new Float32Array(9).fill(3))).toEqual({ low: 2.5, high: 3.5 });
    expect(WINDOW_MODE_NAMES).toEqual(['tile', 'sheet', 'p1-99']);
  });

  const tiles = Array.from({ length: 4 }, (_, i) => ({
    image: renderTile(new Float32Array(32 * 32).fill(i), 32, 32, 1, { low: 0, high: 3 }, 'viridis'),
    label: `#${i}  ${i}.00`,
  }));
  const options = { title: 'dconv64', columns: 4, colorbar: { colormap: 'viridis', low: '-1.5', high: '2.25', label: 'input value' }, caption: 'Under each tile: #filter index, then the final mean activation. '.repeat(3) };

  it('a colour bar runs through the colormap under the grid, with a wrapped caption and 150 dpi', async () => {
    const { png, geometry: g } = await renderSheet(tiles, options);
    expect(g.captionLines.length).toBeGreaterThan(1);
    expect(g.height).toBe(g.footerTop + 30 + g.captionLines.length * 15 + 6);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect((await sharp(png).metadata()).density).toBe(150);
    const pixel = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
    const lut = colormap('viridis');
    // Scan the bar's row: its left end is viridis' dark purple, its right end yellow.
    const y = g.footerTop + 14;
    const row = Array.from({ length: info.width }, (_, x) => pixel(x, y));
    const isBar = (p: number[]) => Math.abs(p[0]! - p[2]!) > 20; // coloured, not grey text or white
    const first = row.findIndex(isBar);
    const last = row.length - 1 - [...row].reverse().findIndex(isBar);
    expect(last - first).toBeGreaterThan(60);
    const near = (p: number[], i: number) => Math.max(...p.map((v, c) => Math.abs(v - lut[i * 3 + c]!)));
    expect(near(row[first + 2]!, 0)).toBeLessThan(30);
    expect(near(row[last - 2]!, 255)).toBeLessThan(30);
    // Caption: dark glyph pixels in each wrapped line's band.
    for (let l = 0; l < g.captionLines.length; l++) {
      let dark = 0;
      for (let yy = g.footerTop + 30 + l * 15; yy < g.footerTop + 30 + (l + 1) * 15; yy++) for (let x = 0; x < info.width; x++) if (pixel(x, yy)[0]! < 100) dark++;
      expect(dark, `caption line ${l}`).toBeGreaterThan(30);
    }
  });

  it('the SVG sheet has the same layout: tiles as embedded PNGs, text and colour bar as vectors, size in inches', async () => {
    const { svg, geometry } = await renderSheetSvg(tiles, options);
    const { geometry: pngGeometry } = await renderSheet(tiles, options);
    expect(geometry).toEqual(pngGeometry);
    expect(svg).toContain(`viewBox="0 0 ${geometry.width} ${geometry.height}"`);
    expect(svg).toContain(`width="${(geometry.width / 150).toFixed(3)}in"`);
    expect(svg).not.toContain('<text');
    const embedded = [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64'));
    expect(embedded).toHaveLength(4);
    const decoded = await sharp(embedded[3]!).raw().toBuffer();
    expect(decoded.equals(Buffer.from(tiles[3]!.image.data))).toBe(true);
  });

  it('an animation holds every frame in order', async () => {
    const frames = [0, 1, 2].map((v) => renderTile(new Float32Array(8 * 8).fill(v), 8, 8, 1, { low: 0, high: 2 }, 'gray'));
    const webp = await encodeAnimation(frames);
    const meta = await sharp(webp, { animated: true }).metadata();
    expect([meta.pages, meta.pageHeight, meta.delay]).toEqual([3, 8, [120, 120, 1000]]);
    const middle = await sharp(webp, { page: 1 }).raw().toBuffer();
    expect(middle[0]).toBe(128);
    expect(recordInterval(20)).toBe(1);
    expect(recordInterval(100)).toBe(5);
  });
});
