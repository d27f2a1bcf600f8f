/**
 * Text as SVG paths drawn from a font shipped in node_modules (DejaVu Sans). Going through glyph
 * outlines instead of <text> means labels never depend on the machine's fontconfig: on a bare
 * machine librsvg would otherwise draw boxes, silently.
 */
import { createRequire } from 'node:module';
import opentype from 'opentype.js';

const require = createRequire(import.meta.url);
let font: opentype.Font | undefined;

function loadFont(): opentype.Font {
  font ??= opentype.loadSync(require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'));
  return font;
}

export function textWidth(text: string, size: number): number {
  return loadFont().getAdvanceWidth(text, size);
}

export type Anchor = 'start' | 'middle' | 'end';

/** An SVG <path> for `text` with its baseline at y, anchored at x. */
export function textPath(text: string, x: number, y: number, size: number, fill: string, anchor: Anchor = 'start'): string {
  const width = textWidth(text, size);
  const left = anchor === 'start' ? x : anchor === 'middle' ? x - width / 2 : x - width;
  const d = loadFont().getPath(text, left, y, size).toPathData(2);
  return `<path d="${d}" fill="${fill}"/>`;
}
