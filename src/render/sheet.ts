/**
 * Contact sheets: a titled grid of tiles, each labelled with its filter index and final activation,
 * like the seed's matplotlib figures (2x8 subplots under a layer-name title).
 */
import sharp from 'sharp';
import type { RgbImage } from './tile.js';
import { textPath } from './text.js';

export interface SheetTile {
  image: RgbImage;
  label: string;
}

export interface SheetOptions {
  title: string;
  subtitle?: string;
  columns: number;
  /** Tiles smaller than this are enlarged by an integer factor (nearest neighbour) so they stay legible. */
  minTileSize?: number;
}

export interface SheetGeometry {
  width: number;
  height: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Top-left corner of each tile's pixels. */
  origins: { x: number; y: number }[];
}

const GAP = 6;
const TITLE_HEIGHT = 40;
const LABEL_HEIGHT = 18;
const TITLE_SIZE = 20;
const LABEL_SIZE = 12;

export function sheetGeometry(count: number, tileWidth: number, tileHeight: number, options: Pick<SheetOptions, 'columns' | 'minTileSize'>): SheetGeometry {
  const factor = Math.max(1, Math.ceil((options.minTileSize ?? 96) / Math.max(tileWidth, tileHeight)));
  const tw = tileWidth * factor;
  const th = tileHeight * factor;
  const columns = Math.max(1, Math.min(options.columns, count));
  const rows = Math.ceil(count / columns);
  const origins = Array.from({ length: count }, (_, i) => ({
    x: GAP + (i % columns) * (tw + GAP),
    y: TITLE_HEIGHT + Math.floor(i / columns) * (th + LABEL_HEIGHT + GAP),
  }));
  return { width: GAP + columns * (tw + GAP), height: TITLE_HEIGHT + rows * (th + LABEL_HEIGHT + GAP), columns, rows, tileWidth: tw, tileHeight: th, origins };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders the sheet to PNG bytes. */
export async function renderSheet(tiles: SheetTile[], options: SheetOptions): Promise<{ png: Buffer; geometry: SheetGeometry }> {
  if (tiles.length === 0) throw new Error('a contact sheet needs at least one tile');
  const { width: w0, height: h0 } = tiles[0]!.image;
  const g = sheetGeometry(tiles.length, w0, h0, options);
  const canvas = new Uint8Array(g.width * g.height * 3).fill(255);
  const factor = g.tileWidth / w0;
  tiles.forEach((tile, i) => {
    const { x: ox, y: oy } = g.origins[i]!;
    const src = tile.image;
    for (let y = 0; y < g.tileHeight; y++) {
      const sy = Math.floor(y / factor);
      for (let x = 0; x < g.tileWidth; x++) {
        const s = (sy * src.width + Math.floor(x / factor)) * 3;
        const d = ((oy + y) * g.width + ox + x) * 3;
        canvas[d] = src.data[s]!;
        canvas[d + 1] = src.data[s + 1]!;
        canvas[d + 2] = src.data[s + 2]!;
      }
    }
  });
  const text = [textPath(options.title, g.width / 2, 27, TITLE_SIZE, '#111', 'middle')];
  if (options.subtitle) text.push(textPath(options.subtitle, g.width - GAP, 14, 10, '#777', 'end'));
  tiles.forEach((tile, i) => {
    const { x, y } = g.origins[i]!;
    text.push(textPath(tile.label, x + g.tileWidth / 2, y + g.tileHeight + 14, LABEL_SIZE, '#222', 'middle'));
  });
  // Labels are glyph outlines, so the SVG holds no text; escaping guards the title attribute only.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}"><title>${escapeXml(options.title)}</title>${text.join('')}</svg>`;
  const png = await sharp(canvas, { raw: { width: g.width, height: g.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .removeAlpha()
    .png({ compressionLevel: 9 })
    .toBuffer();
  return { png, geometry: g };
}

export async function encodePng(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer();
}
