/**
 * The attribution section: per slice, the input as the network saw it and the run's overlay under one
 * slider, the map alone in colour with its value range, and links to the raw map (.npy) and the map in
 * the input's own format. The input is read again where the run read it (files relative to the current
 * folder, phantoms regenerated); when it cannot be, the overlay is shown alone.
 */
import sharp from 'sharp';
import { toGray, createImage, type RawImage } from '../io/image.js';
import { parseInputSpec } from '../io/input-spec.js';
import { percentiles } from '../io/intensity.js';
import { readImage } from '../io/read.js';
import { createRng, randomPhantom, sheppLogan } from '../mri/index.js';
import { colormap } from '../render/colormap.js';
import type { ReportContext, SectionRenderer } from './context.js';
import { existing, failedSection, readNpyInside, shortName } from './files.js';
import { esc, fileLinks, href, num, table } from './html.js';

interface AttributionEntry {
  input: string;
  method?: string;
  target?: string;
  overlay?: string;
  npy?: string;
  native?: string;
  range?: { min: number; max: number };
  completeness?: { fx: number; fBaseline: number; sum: number; relativeError: number };
  ms?: number;
  error?: string;
}

function isEntry(r: unknown): r is AttributionEntry {
  return typeof r === 'object' && r !== null && typeof (r as AttributionEntry).input === 'string';
}

/** The attribute command's phantom inputs (src/activations/slices.ts), regenerated from their spec. */
const PHANTOM = /^phantom:(shepp-logan|random:(\d+))(?::(\d+))?$/;

async function readInput(text: string): Promise<RawImage | undefined> {
  const m = PHANTOM.exec(text);
  if (m) {
    const size = m[3] === undefined ? 256 : Number(m[3]);
    if (size < 8 || size > 4096) return undefined;
    return createImage(size, size, 1, m[1] === 'shepp-logan' ? sheppLogan(size) : randomPhantom(size, createRng(Number(m[2]))));
  }
  try {
    const spec = parseInputSpec(text);
    return await readImage(spec.path, spec.read);
  } catch {
    return undefined;
  }
}

/** The input in grey through the run's percentile window, as the network got it (and as the overlay's background). */
async function inputPreview(image: RawImage, window: readonly [number, number]): Promise<Buffer> {
  const grey = toGray(image);
  const [low, high] = percentiles(grey, [...window]) as [number, number];
  const span = high - low || 1;
  const out = Buffer.alloc(image.width * image.height);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(((grey.data[i * grey.channels]! - low) / span) * 255)));
  return sharp(out, { raw: { width: image.width, height: image.height, channels: 1 } }).png({ compressionLevel: 6 }).toBuffer();
}

/** The 99th percentile of |map|: the overlay's colour scale ends there, so one hot pixel does not wash out the rest. */
function robustMax(map: Float32Array): number {
  const abs = Float32Array.from(map, Math.abs).sort();
  const m = abs[Math.min(abs.length - 1, Math.floor(0.99 * abs.length))]!;
  return m > 0 ? m : abs[abs.length - 1]! || 1;
}

/** The map alone: diverging colours centred on zero for signed methods, sequential for Grad-CAM. */
async function heatmap(map: Float32Array, width: number, height: number, signed: boolean): Promise<{ png: Buffer; scale: number }> {
  const lut = colormap(signed ? 'rdbu' : 'magma');
  const m = robustMax(map);
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const v = map[i]!;
    const t = signed ? Math.max(0, Math.min(1, (v / m + 1) / 2)) : Math.max(0, Math.min(1, v / m));
    const k = Math.round(t * 255) * 3;
    rgb[i * 3] = lut[k]!;
    rgb[i * 3 + 1] = lut[k + 1]!;
    rgb[i * 3 + 2] = lut[k + 2]!;
  }
  return { png: await sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer(), scale: m };
}

async function entryBlock(ctx: ReportContext, r: AttributionEntry, i: number, window: readonly [number, number]): Promise<string> {
  const name = shortName(r.input);
  const overlay = await existing(ctx, r.overlay);
  const npy = await existing(ctx, r.npy);
  const signed = r.method !== 'gradcam';
  const raw = await readNpyInside(ctx, npy);
  const [h = 0, w = 0] = raw?.shape ?? [];
  const input = await readInput(r.input);
  // The input preview only when it has the map's size: otherwise it is not the slice that was attributed.
  const before = input && raw && input.width === w && input.height === h ? await ctx.writeAsset(`attribute-${i}-input.png`, await inputPreview(input, window)) : undefined;
  const map = raw && raw.data.length === w * h && w > 0 ? await heatmap(raw.data, w, h, signed) : undefined;
  const mapFile = map ? await ctx.writeAsset(`attribute-${i}-map.png`, map.png) : undefined;
  let compare = '<p class="muted">No overlay file.</p>';
  if (overlay && before) {
    compare = `<div><div class="compare"><img class="before" src="${href(before)}" alt="input ${esc(name)}"><img class="after" src="${href(overlay)}" alt="attribution overlay on ${esc(name)}"><span class="tag l">input</span><span class="tag r">overlay</span></div>
<input class="slider" type="range" min="0" max="100" value="50" aria-label="input / overlay split"></div>`;
  } else if (overlay) {
    compare = `<div><img class="sheet" src="${href(overlay)}" alt="attribution overlay on ${esc(name)}"><p class="muted">input ${esc(r.input)} not readable from here: overlay only</p></div>`;
  }
  const scale = map ? (signed ? `blue -${num(map.scale)} .. white 0 .. red +${num(map.scale)}` : `black 0 .. yellow ${num(map.scale)}`) : '';
  const mapHtml = mapFile
    ? `<div class="pair"><figure><img src="${href(mapFile)}" alt="attribution map of ${esc(name)}"><figcaption>the map alone: ${esc(scale)} (99th percentile of |map|; beyond it saturates)</figcaption></figure></div>`
    : '';
  const c = r.completeness;
  const rows: [string, string][] = [
    ['method', esc(r.method ?? '?')],
    ['target', esc(r.target ?? '?')],
    ['map range', r.range ? `${num(r.range.min)} to ${num(r.range.max)}` : '–'],
    ...(c
      ? ([
          ['completeness', `sum of the map ${num(c.sum)} vs f(x) - f(baseline) = ${num(c.fx)} - ${num(c.fBaseline)} = ${num(c.fx - c.fBaseline)}: relative error ${num(c.relativeError)}`],
        ] as [string, string][])
      : []),
    ['time', r.ms !== undefined ? `${num(r.ms / 1000)} s` : '–'],
  ];
  const links = fileLinks([['overlay PNG', overlay], ['raw map .npy', npy], ['map in the input\'s format', await existing(ctx, r.native)]]);
  return `<div class="row">${compare}<div>${mapHtml}<table class="kv">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table><p>Files: ${links || '–'}</p></div></div>`;
}

export const attributeSection: SectionRenderer = async (ctx) => {
  const records = (ctx.manifest.results ?? []).filter(isEntry);
  const config = (ctx.manifest.config ?? {}) as { window?: [number, number]; seed?: { window?: [number, number] } };
  const window = config.window ?? config.seed?.window ?? [0.5, 99.5];
  const nav: { id: string; label: string }[] = [];
  const parts: string[] = [];
  for (const [i, r] of records.entries()) {
    if (r.error) continue;
    const id = `attribution-${i}`;
    nav.push({ id, label: shortName(r.input) });
    parts.push(`<section id="${id}"><h2>${esc(r.input)} <span class="muted">${esc(r.method ?? '')} of ${esc(r.target ?? '')}</span></h2>${await entryBlock(ctx, r, i, window)}</section>`);
  }
  const ok = records.filter((r) => !r.error);
  const summary = ok.length
    ? `<section id="summary"><h2>Summary</h2>${table(
        ['input', 'method', 'target', 'map min', 'map max', 'completeness error', 'seconds'],
        ok.map((r) => [`<a href="#attribution-${records.indexOf(r)}">${esc(r.input)}</a>`, esc(r.method ?? ''), esc(r.target ?? ''), num(r.range?.min), num(r.range?.max), num(r.completeness?.relativeError), num((r.ms ?? NaN) / 1000)]),
      )}<p class="muted">Completeness (integrated gradients): the map should sum to f(input) - f(baseline); the error is relative to that difference.</p></section>`
    : '';
  const failed = failedSection(records.filter((r) => r.error));
  if (records.length === 0) parts.push('<section><h2>Attribution</h2><p class="muted">This manifest lists no inputs.</p></section>');
  return { nav: [...(summary ? [{ id: 'summary', label: 'summary' }] : []), ...nav, ...failed.nav], html: summary + parts.join('\n') + failed.html };
};
