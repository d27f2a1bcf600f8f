/**
 * Contact sheets: a titled grid of tiles, each labelled with its filter index and final activation,
 * like the seed's matplotlib figures (2x8 subplots under a layer-name title).
 */
import sharp from 'sharp';
import type { RgbImage } from './tile.js';
import { textPath, textWidth } from './text.js';
import { colormap } from './colormap.js';

export interface SheetTile {
  image: RgbImage;
  label: string;
}

export interface ColorBar {
  colormap: string;
  /** Labels at the two ends of the bar: numbers for a sheet-wide window, "tile min" / "tile max" otherwise. */
  low: string;
  high: string;
  /** What the colours show, after the bar. */
  label?: string;
}

export interface SheetOptions {
  title: string;
  subtitle?: string;
  columns: number;
  /** Tiles smaller than this are enlarged by an integer factor (nearest neighbour) so they stay legible. */
  minTileSize?: number;
  colorbar?: ColorBar;
  /** Says what the number under each tile is; wrapped under the colour bar. */
  caption?: string;
  /** Pixel density written into the PNG (default 150 dpi: a 1078-pixel sheet is 7.2 inches, a page's text width). */
  dpi?: number;
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
  /** Top of the colour bar and caption band (the grid's bottom). */
  footerTop: number;
  /** The caption, wrapped to the sheet's width. */
  captionLines: string[];
}

const GAP = 6;
const TITLE_HEIGHT = 40;
const LABEL_HEIGHT = 18;
const TITLE_SIZE = 20;
const LABEL_SIZE = 12;
const CAPTION_SIZE = 11;
const CAPTION_LINE = 15;
const BAR_BAND = 30;
export const DEFAULT_DPI = 150;

function wrap(text: string, width: number, size: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, size) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

export function sheetGeometry(
  count: number,
  tileWidth: number,
  tileHeight: number,
  options: Pick<SheetOptions, 'columns' | 'minTileSize' | 'colorbar' | 'caption'>,
): SheetGeometry {
  const factor = Math.max(1, Math.ceil((options.minTileSize ?? 96) / Math.max(tileWidth, tileHeight)));
  const tw = tileWidth * factor;
  const th = tileHeight * factor;
  const columns = Math.max(1, Math.min(options.columns, count));
  const rows = Math.ceil(count / columns);
  const origins = Array.from({ length: count }, (_, i) => ({
    x: GAP + (i % columns) * (tw + GAP),
    y: TITLE_HEIGHT + Math.floor(i / columns) * (th + LABEL_HEIGHT + GAP),
  }));
  const width = GAP + columns * (tw + GAP);
  const footerTop = TITLE_HEIGHT + rows * (th + LABEL_HEIGHT + GAP);
  const captionLines = options.caption ? wrap(options.caption, width - 2 * GAP, CAPTION_SIZE) : [];
  const footer = (options.colorbar ? BAR_BAND : 0) + captionLines.length * CAPTION_LINE + (captionLines.length ? GAP : 0);
  return { width, height: footerTop + footer, columns, rows, tileWidth: tw, tileHeight: th, origins, footerTop, captionLines };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function hex(lut: Uint8Array, i: number): string {
  return `#${[lut[i * 3]!, lut[i * 3 + 1]!, lut[i * 3 + 2]!].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** The colour bar: a gradient through the colormap (17 stops), its end labels and what it shows. */
function colorBarSvg(bar: ColorBar, g: SheetGeometry): string {
  const lut = colormap(bar.colormap);
  const lowWidth = textWidth(bar.low, CAPTION_SIZE);
  const x = GAP + lowWidth + 6;
  const barWidth = Math.min(256, Math.max(64, g.width / 3));
  const y = g.footerTop + 8;
  const stops = Array.from({ length: 17 }, (_, k) => {
    const i = Math.min(255, k * 16);
    return `<stop offset="${(i / 255).toFixed(4)}" stop-color="${hex(lut, i)}"/>`;
  }).join('');
  const parts = [
    `<defs><linearGradient id="colorbar" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>`,
    `<rect x="${x}" y="${y}" width="${barWidth}" height="12" fill="url(#colorbar)" stroke="#444" stroke-width="0.5"/>`,
    textPath(bar.low, x - 4, y + 10, CAPTION_SIZE, '#222', 'end'),
    textPath(bar.high, x + barWidth + 4, y + 10, CAPTION_SIZE, '#222', 'start'),
  ];
  if (bar.label) parts.push(textPath(bar.label, x + barWidth + 10 + textWidth(bar.high, CAPTION_SIZE), y + 10, CAPTION_SIZE, '#555', 'start'));
  return parts.join('');
}

/** Everything but the tiles' pixels, as vector SVG elements: title, labels, colour bar, caption. */
function overlay(tiles: SheetTile[], g: SheetGeometry, options: SheetOptions): string {
  const text = [textPath(options.title, g.width / 2, 27, TITLE_SIZE, '#111', 'middle')];
  if (options.subtitle) text.push(textPath(options.subtitle, g.width - GAP, 14, 10, '#777', 'end'));
  tiles.forEach((tile, i) => {
    const { x, y } = g.origins[i]!;
    text.push(textPath(tile.label, x + g.tileWidth / 2, y + g.tileHeight + 14, LABEL_SIZE, '#222', 'middle'));
  });
  if (options.colorbar) text.push(colorBarSvg(options.colorbar, g));
  const captionTop = g.footerTop + (options.colorbar ? BAR_BAND : 0);
  g.captionLines.forEach((line, i) => text.push(textPath(line, GAP, captionTop + 11 + i * CAPTION_LINE, CAPTION_SIZE, '#333', 'start')));
  return text.join('');
}

function geometryOf(tiles: SheetTile[], options: SheetOptions): SheetGeometry {
  if (tiles.length === 0) throw new Error('a contact sheet needs at least one tile');
  return sheetGeometry(tiles.length, tiles[0]!.image.width, tiles[0]!.image.height, options);
}

/** Renders the sheet to PNG bytes. */
export async function renderSheet(tiles: SheetTile[], options: SheetOptions): Promise<{ png: Buffer; geometry: SheetGeometry }> {
  const g = geometryOf(tiles, options);
  const w0 = tiles[0]!.image.width;
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
  // Labels are glyph outlines, so the SVG holds no text; escaping guards the title attribute only.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}"><title>${escapeXml(options.title)}</title>${overlay(tiles, g, options)}</svg>`;
  const png = await sharp(canvas, { raw: { width: g.width, height: g.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .removeAlpha()
    .withDensity(options.dpi ?? DEFAULT_DPI)
    .png({ compressionLevel: 9 })
    .toBuffer();
  return { png, geometry: g };
}

/**
 * The same sheet as SVG: text, colour bar and caption are vectors; each tile is its own embedded PNG
 * (pixel data has no vector form), drawn unsmoothed when enlarged.
 */
export async function renderSheetSvg(tiles: SheetTile[], options: SheetOptions): Promise<{ svg: string; geometry: SheetGeometry }> {
  const g = geometryOf(tiles, options);
  const images = await Promise.all(
    tiles.map(async (tile, i) => {
      const { x, y } = g.origins[i]!;
      const href = `data:image/png;base64,${(await encodePng(tile.image)).toString('base64')}`;
      return `<image x="${x}" y="${y}" width="${g.tileWidth}" height="${g.tileHeight}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${href}"/>`;
    }),
  );
  const inches = (px: number) => `${(px / (options.dpi ?? DEFAULT_DPI)).toFixed(3)}in`;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${inches(g.width)}" height="${inches(g.height)}" viewBox="0 0 ${g.width} ${g.height}">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${g.width}" height="${g.height}" fill="#fff"/>`,
    ...images,
    overlay(tiles, g, options),
    '</svg>\n',
  ].join('');
  return { svg, geometry: g };
}

export async function encodePng(image: RgbImage, dpi = DEFAULT_DPI): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).withDensity(dpi).png({ compressionLevel: 9 }).toBuffer();
}
