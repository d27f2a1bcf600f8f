import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderSheet, sheetGeometry } from '../src/render/sheet.js';
import { minMaxWindow, renderTile } from '../src/render/tile.js';
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
    expect(() => colormap('jet')).toThrow('unknown colormap "jet"; valid colormaps: viridis, magma, gray');
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
