/** Reading what a manifest names, inside the output folder only; a missing or broken file is `undefined`, never a failed report. */
import { promises as fs } from 'node:fs';
import { decodeNpy } from '../io/npy.js';
import type { ReportContext } from './context.js';
import { esc, table } from './html.js';

/** The path relative to the output folder when that file exists inside it. */
export async function existing(ctx: ReportContext, relative: string | undefined): Promise<string | undefined> {
  if (typeof relative !== 'string' || relative === '') return undefined;
  const file = ctx.inside(relative);
  if (!file) return undefined;
  return (await fs.stat(file).then((s) => s.isFile(), () => false)) ? relative : undefined;
}

export async function readJsonInside<T>(ctx: ReportContext, relative: string): Promise<T | undefined> {
  const file = ctx.inside(relative);
  if (!file) return undefined;
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function readNpyInside(ctx: ReportContext, relative: string | undefined): Promise<{ data: Float32Array; shape: number[] } | undefined> {
  const file = relative ? ctx.inside(relative) : undefined;
  if (!file) return undefined;
  try {
    return decodeNpy(await fs.readFile(file));
  } catch {
    return undefined;
  }
}

/** The inputs a run could not read, with why. */
export function failedSection(failed: { input: string; error?: string }[]): { nav: { id: string; label: string }[]; html: string } {
  if (failed.length === 0) return { nav: [], html: '' };
  return {
    nav: [{ id: 'failed', label: `${failed.length} failed` }],
    html: `<section id="failed"><h2>Failed inputs</h2>${table(['input', 'reason'], failed.map((r) => [esc(r.input), `<span class="error">${esc(r.error ?? '')}</span>`]))}</section>`,
  };
}

/** An input's name for a heading or nav entry: its file name with any slice selector. */
export function shortName(input: string): string {
  return input.split(/[\\/]/).pop() || input;
}
