/**
 * The dream section (dream, batch): per input, input and output side by side under a slider, the
 * octave table, the objective per step, and for MR files the output's header next to the input's.
 * Browsers cannot show DICOM or NIfTI, so small PNG previews of one slice of each go under report/.
 */
import sharp from 'sharp';
import type { RawImage } from '../io/image.js';
import { parseInputSpec } from '../io/input-spec.js';
import { readImage } from '../io/read.js';
import { transferSyntaxName } from '../io/dicom/index.js';
import type { ReportContext, SectionRenderer } from './context.js';
import { curveSvg } from './curve.js';
import { esc, href, num, table } from './html.js';

interface OctaveEntry {
  octave?: number;
  width?: number;
  height?: number;
  start?: number;
  end?: number;
  curve?: number[];
}

interface DreamEntry {
  input: string;
  outputs?: string[];
  slices?: number;
  octaves?: OctaveEntry[];
  window?: { low: number; high: number };
  animation?: string;
  error?: string;
}

const PREVIEW_MAX = 512;

function isDreamEntry(r: unknown): r is DreamEntry {
  return typeof r === 'object' && r !== null && typeof (r as DreamEntry).input === 'string';
}

/** One slice to 8-bit RGB through the dream's window (source units), so input and output compare in the same scale. */
async function preview(image: RawImage, window: { low: number; high: number } | undefined): Promise<Buffer> {
  const { width, height, channels, data } = image;
  const colour = channels >= 3 ? 3 : 1;
  let low = window?.low ?? image.meta.range.min;
  let high = window?.high ?? image.meta.range.max;
  if (!(high > low)) [low, high] = [low - 0.5, low + 0.5];
  const out = Buffer.alloc(width * height * colour);
  const scale = 255 / (high - low);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < colour; c++) out[i * colour + c] = Math.max(0, Math.min(255, Math.round((data[i * channels + c]! - low) * scale)));
  }
  let img = sharp(out, { raw: { width, height, channels: colour as 1 | 3 } });
  if (width > PREVIEW_MAX) img = img.resize({ width: PREVIEW_MAX });
  return img.png({ compressionLevel: 6 }).toBuffer();
}

const DICOM_FIELDS = ['Modality', 'SeriesDescription', 'Rows', 'Columns', 'PixelSpacing', 'SliceThickness', 'ImagePositionPatient', 'ImageOrientationPatient', 'BitsStored', 'RescaleSlope', 'RescaleIntercept', 'PhotometricInterpretation', 'ImageType'];

function show(v: unknown): string {
  if (v === undefined || v === null) return '–';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'number' ? num(x) : String(x))).join(' \\ ');
  return typeof v === 'number' ? num(v) : String(v);
}

/** The header facts a researcher checks in a derived MR file: geometry, sample type, scaling. */
export function headerSummary(image: RawImage): [string, string][] {
  const m = image.meta;
  const rows: [string, string][] = [
    ['format', m.format],
    ['size', `${image.width} x ${image.height}, ${m.sliceCount} slice${m.sliceCount === 1 ? '' : 's'} in the file`],
    ['sample type', `${m.dtype}, ${m.bitDepth} bits`],
    ['value range (this slice)', `${num(m.range.min)} to ${num(m.range.max)}`],
  ];
  if (m.dicom) {
    rows.push(['transfer syntax', `${transferSyntaxName(m.dicom.transferSyntaxUID)} (${m.dicom.transferSyntaxUID})`]);
    for (const key of DICOM_FIELDS) rows.push([key, show(m.dicom.dataset[key])]);
  }
  if (m.nifti) {
    const n = m.nifti;
    rows.push(
      ['NIfTI version', String(n.version)],
      ['datatype code', String(n.datatypeCode)],
      ['dim', n.dims.join(' ')],
      ['pixdim', n.pixdim.map((v) => num(v)).join(' ')],
      ['qform / sform code', `${n.qformCode} / ${n.sformCode}`],
      ['scl_slope / scl_inter', `${num(n.sclSlope)} / ${num(n.sclInter)}`],
      ['descrip', n.description || '–'],
      ['slice shown', `${n.axis}=${n.slice}`],
    );
  }
  return rows;
}

function headerTable(input: RawImage | undefined, output: RawImage): string {
  const out = headerSummary(output);
  const inp = new Map(input ? headerSummary(input) : []);
  return `<table class="kv"><thead><tr><th></th><th>input</th><th>output</th></tr></thead><tbody>${out
    .map(([k, v]) => {
      const i = inp.get(k);
      const differs = i !== undefined && i !== v && !k.startsWith('value range') && k !== 'descrip';
      return `<tr><td>${esc(k)}</td><td>${esc(i ?? '–')}</td><td${differs ? ' class="diff"' : ''}>${esc(v)}</td></tr>`;
    })
    .join('')}</tbody></table>`;
}

/** Which slice to preview: the middle one, taken from the matching output file when there is one per slice. */
async function readPair(ctx: ReportContext, r: DreamEntry, config: { axis?: 'x' | 'y' | 'z'; volume?: number }) {
  const outputs = (r.outputs ?? []).map((o) => ({ name: o, file: ctx.inside(o) })).filter((o) => o.file);
  if (outputs.length === 0) return {};
  const slices = r.slices ?? 1;
  const middle = Math.floor(slices / 2);
  const perSlice = outputs.length > 1;
  const output = await readImage(perSlice ? outputs[Math.min(middle, outputs.length - 1)]!.file! : outputs[0]!.file!).catch(() => undefined);
  const spec = (() => {
    try {
      return parseInputSpec(r.input);
    } catch {
      return undefined;
    }
  })();
  // The input is read where the run read it (relative to the current folder); when it is gone the report shows the output alone.
  const input = spec
    ? await readImage(spec.path, { ...spec.read, axis: spec.read.axis ?? config.axis, volume: config.volume, ...(spec.read.slice === undefined && slices > 1 ? { slice: middle } : {}) }).catch(() => undefined)
    : undefined;
  return { input, output, outputName: perSlice ? outputs[Math.min(middle, outputs.length - 1)]!.name : outputs[0]!.name };
}

export const dreamSection: SectionRenderer = async (ctx) => {
  const records = (ctx.manifest.results ?? []).filter(isDreamEntry);
  const seed = (ctx.manifest.config?.seed ?? {}) as { axis?: 'x' | 'y' | 'z'; volume?: number };
  const config = { axis: (ctx.manifest.config as { axis?: 'x' | 'y' | 'z' })?.axis ?? seed.axis, volume: (ctx.manifest.config as { volume?: number })?.volume ?? seed.volume };
  const nav: { id: string; label: string }[] = [];
  const parts: string[] = [];
  const failed = records.filter((r) => r.error);
  for (const [i, r] of records.entries()) {
    if (r.error) continue;
    const id = `dream-${i}`;
    const name = r.input.split(/[\\/]/).pop() ?? r.input;
    nav.push({ id, label: name });
    const { input, output, outputName } = await readPair(ctx, r, config);
    let compare = '<p class="muted">No output file to preview.</p>';
    if (output) {
      const after = await ctx.writeAsset(`dream-${i}-output.png`, await preview(output, r.window));
      const before = input ? await ctx.writeAsset(`dream-${i}-input.png`, await preview(input, r.window)) : undefined;
      compare = before
        ? `<div><div class="compare" id="compare-${i}"><img class="before" src="${href(before)}" alt="input ${esc(name)}"><img class="after" src="${href(after)}" alt="dream of ${esc(name)}"><span class="tag l">input</span><span class="tag r">dream</span></div>
<input class="slider" type="range" min="0" max="100" value="50" aria-label="input / dream split"></div>`
        : `<div><img class="sheet" src="${href(after)}" alt="dream of ${esc(name)}"><p class="muted">input ${esc(r.input)} not readable from here: output only</p></div>`;
    }
    const octaves = r.octaves ?? [];
    const curve: number[] = [];
    const breaks: number[] = [];
    for (const o of octaves) {
      if (!o.curve?.length) continue;
      if (curve.length) breaks.push(curve.length);
      curve.push(...o.curve);
    }
    const octaveTable = octaves.length
      ? table(
          ['octave', 'size', 'objective start', 'objective end', 'gain'],
          octaves.map((o) => [String(o.octave ?? ''), `${o.width ?? '?'} x ${o.height ?? '?'}`, num(o.start), num(o.end), num((o.end ?? NaN) - (o.start ?? NaN))]),
        )
      : '';
    const curveHtml = curve.length > 1 ? `<p class="muted">objective per step, octaves separated by dashed lines</p>${curveSvg(curve, { width: 420, breaks, title: `${name}: objective per step` })}` : '';
    const mr = output && (output.meta.format === 'dicom' || output.meta.format === 'nifti');
    const files = (r.outputs ?? []).map((o) => `<a href="${href(o)}">${esc(o)}</a>`).join(', ');
    const animation = r.animation ? `<div><p class="muted">the ascent, octave by octave</p><img class="anim" src="${href(r.animation)}" alt="animation of ${esc(name)}" width="256"></div>` : '';
    parts.push(`<section id="${id}"><h2>${esc(r.input)}</h2>
<div class="row">${compare}<div>${octaveTable}${curveHtml}</div>${animation}</div>
<p>Output: ${files || '–'}${r.slices && r.slices > 1 ? ` (${r.slices} slices; preview: middle slice)` : ''}${output ? `, ${esc(output.meta.format)}` : ''}${r.window ? `; window ${num(r.window.low)} to ${num(r.window.high)} (input units)` : ''}</p>
${mr && outputName ? `<h3>Header of ${esc(outputName)}</h3>${headerTable(input, output)}` : ''}</section>`);
  }
  if (failed.length) {
    nav.push({ id: 'failed', label: `${failed.length} failed` });
    parts.push(`<section id="failed"><h2>Failed inputs</h2>${table(['input', 'reason'], failed.map((r) => [esc(r.input), `<span class="error">${esc(r.error)}</span>`]))}</section>`);
  }
  if (records.length === 0) parts.push('<section><h2>Dreams</h2><p class="muted">This manifest lists no inputs.</p></section>');
  return { nav, html: parts.join('\n') };
};
