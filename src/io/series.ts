/**
 * A folder of DICOM slices as one series, in anatomical order: sorted by ImagePositionPatient projected on the
 * slice normal (ImageOrientationPatient row x column), falling back to InstanceNumber, then to the file order.
 */
import { promises as fs } from 'node:fs';
import { InputError } from '../errors.js';
import type { RawImage } from './image.js';
import { readImages, toInputError } from './read.js';
import { walkInputs, type WalkOptions } from './walk.js';

export interface SeriesOptions {
  /** Which series when the folder holds several (default: the folder must hold one). */
  seriesInstanceUID?: string;
  /** Descend into sub-folders (default false). */
  recursive?: boolean;
  /** Patterns of files to consider (default every file; files that are not DICOM are skipped). */
  include?: WalkOptions['include'];
}

async function isDicom(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
    const head = Buffer.alloc(132);
    const { bytesRead } = await handle.read(head, 0, 132, 0);
    return bytesRead === 132 && head.toString('latin1', 128, 132) === 'DICM';
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

function field(image: RawImage, name: string): unknown {
  return image.meta.dicom?.dataset[name];
}

function numbers(value: unknown): number[] | undefined {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : typeof value === 'number' ? [value] : undefined;
  const out = list?.map(Number);
  return out && out.length > 0 && out.every(Number.isFinite) ? out : undefined;
}

/** Position along the slice normal, from the image's geometry (RAS; the normal is its third column). */
function positionAlongNormal(image: RawImage): number | undefined {
  const a = image.meta.geometry?.affine;
  if (!a) return undefined;
  const n = [a[0]![2]!, a[1]![2]!, a[2]![2]!];
  const length = Math.hypot(...n) || 1;
  return (n[0]! * a[0]![3]! + n[1]! * a[1]![3]! + n[2]! * a[2]![3]!) / length;
}

/** Read every DICOM slice (and frame) of one series in DIR, sorted along the slice normal. */
export async function readDicomSeries(dir: string, options: SeriesOptions = {}): Promise<RawImage[]> {
  const files = await walkInputs(dir, { recursive: options.recursive ?? false, ...(options.include !== undefined ? { include: options.include } : {}) });
  const dicomFiles: string[] = [];
  for (const f of files) if (await isDicom(f)) dicomFiles.push(f);
  if (dicomFiles.length === 0) throw new InputError(dir, 'no DICOM files found');

  const bySeries = new Map<string, RawImage[]>();
  for (const file of dicomFiles) {
    const images = await readImages(file).catch((err: unknown) => {
      throw toInputError(file, err);
    });
    for (const image of images) {
      const uid = String(field(image, 'SeriesInstanceUID') ?? '(no SeriesInstanceUID)');
      if (!bySeries.has(uid)) bySeries.set(uid, []);
      bySeries.get(uid)!.push(image);
    }
  }
  let uid = options.seriesInstanceUID;
  if (uid === undefined) {
    if (bySeries.size > 1) {
      const list = [...bySeries].map(([u, imgs]) => `${u} (${imgs.length} image${imgs.length === 1 ? '' : 's'})`).join(', ');
      throw new InputError(dir, `holds ${bySeries.size} series, choose one by SeriesInstanceUID: ${list}`);
    }
    uid = bySeries.keys().next().value as string;
  }
  const series = bySeries.get(uid);
  if (!series) throw new InputError(dir, `no series with SeriesInstanceUID ${uid}`);

  // Sort along the normal when every slice has a position, else by InstanceNumber, else keep the file order.
  const keyed = series.map((image, order) => ({
    image,
    order,
    position: positionAlongNormal(image),
    instance: numbers(field(image, 'InstanceNumber'))?.[0],
  }));
  const byPosition = keyed.every((k) => k.position !== undefined);
  const byInstance = keyed.every((k) => k.instance !== undefined);
  keyed.sort((a, b) => {
    if (byPosition && a.position !== b.position) return a.position! - b.position!;
    if (byInstance && a.instance !== b.instance) return a.instance! - b.instance!;
    if (a.image.meta.sliceIndex !== b.image.meta.sliceIndex && a.image.meta.source === b.image.meta.source) return a.image.meta.sliceIndex - b.image.meta.sliceIndex;
    return a.order - b.order;
  });
  return keyed.map((k) => k.image);
}
