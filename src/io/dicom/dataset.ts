/** Reading attributes from a naturalised dataset: numbers, strings, per-frame functional groups, geometry. */
import type { SliceGeometry } from '../image.js';
import type { Dataset } from './dcmjs.js';

export function first<T = Dataset>(value: unknown): T | undefined {
  if (Array.isArray(value)) return value[0] as T | undefined;
  return (value ?? undefined) as T | undefined;
}

export function num(value: unknown): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function nums(value: unknown, count: number): number[] | undefined {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : undefined;
  if (!list || list.length < count) return undefined;
  const out = list.slice(0, count).map((v) => num(v));
  return out.every((v) => v !== undefined) ? (out as number[]) : undefined;
}

export function str(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' ? v.trim() : undefined;
}

export function toBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/** Look an attribute up in this frame's functional groups, the shared groups, then the top level. */
export function frameAttribute(ds: Dataset, frame: number, sequence: string, name: string): unknown {
  const perFrame = ds['PerFrameFunctionalGroupsSequence'];
  const own = Array.isArray(perFrame) ? (perFrame[frame] as Dataset | undefined) : undefined;
  for (const groups of [own, first<Dataset>(ds['SharedFunctionalGroupsSequence'])]) {
    const item = groups ? first<Dataset>(groups[sequence]) : undefined;
    if (item && item[name] !== undefined) return item[name];
  }
  return ds[name];
}

export interface FrameInfo {
  slope: number;
  intercept: number;
  geometry?: SliceGeometry;
  /**
   * This frame's attributes as the file spells them (per-frame group, shared group, or top level), to copy into a
   * single-frame derived object: geometry, rescale and window.
   */
  attributes: Dataset;
}

/** Where each per-frame attribute lives in the enhanced objects' functional groups. */
const FRAME_ATTRIBUTES: Record<string, string> = {
  ImagePositionPatient: 'PlanePositionSequence',
  ImageOrientationPatient: 'PlaneOrientationSequence',
  PixelSpacing: 'PixelMeasuresSequence',
  SliceThickness: 'PixelMeasuresSequence',
  SpacingBetweenSlices: 'PixelMeasuresSequence',
  RescaleSlope: 'PixelValueTransformationSequence',
  RescaleIntercept: 'PixelValueTransformationSequence',
  RescaleType: 'PixelValueTransformationSequence',
  WindowCenter: 'FrameVOILUTSequence',
  WindowWidth: 'FrameVOILUTSequence',
  WindowCenterWidthExplanation: 'FrameVOILUTSequence',
  VOILUTFunction: 'FrameVOILUTSequence',
};

export function frameInfo(ds: Dataset, frame: number): FrameInfo {
  const slope = num(frameAttribute(ds, frame, 'PixelValueTransformationSequence', 'RescaleSlope')) ?? 1;
  const intercept = num(frameAttribute(ds, frame, 'PixelValueTransformationSequence', 'RescaleIntercept')) ?? 0;
  const ipp = nums(frameAttribute(ds, frame, 'PlanePositionSequence', 'ImagePositionPatient'), 3);
  const iop = nums(frameAttribute(ds, frame, 'PlaneOrientationSequence', 'ImageOrientationPatient'), 6);
  const spacing = nums(frameAttribute(ds, frame, 'PixelMeasuresSequence', 'PixelSpacing'), 2) ?? [1, 1];
  const thickness =
    num(frameAttribute(ds, frame, 'PixelMeasuresSequence', 'SpacingBetweenSlices')) ?? num(frameAttribute(ds, frame, 'PixelMeasuresSequence', 'SliceThickness')) ?? 1;
  const attributes: Dataset = {};
  for (const [name, sequence] of Object.entries(FRAME_ATTRIBUTES)) {
    const value = frameAttribute(ds, frame, sequence, name);
    if (value !== undefined && value !== null && value !== '') attributes[name] = value;
  }
  const info: FrameInfo = { slope: slope === 0 ? 1 : slope, intercept, attributes };
  if (ipp && iop) info.geometry = { affine: dicomAffine(ipp, iop, spacing, thickness) };
  return info;
}

const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const norm = (a: number[]) => Math.hypot(a[0]!, a[1]!, a[2]!);

/** (column, row, slice) -> RAS mm, from DICOM's LPS ImagePositionPatient / ImageOrientationPatient / PixelSpacing. */
export function dicomAffine(ipp: number[], iop: number[], pixelSpacing: number[], sliceSpacing: number): number[][] {
  const r = iop.slice(0, 3);
  const c = iop.slice(3, 6);
  const n = cross(r, c);
  const [dr, dc] = [pixelSpacing[0]!, pixelSpacing[1]!]; // spacing between rows, between columns
  const lps = [0, 1, 2].map((i) => [r[i]! * dc, c[i]! * dr, n[i]! * sliceSpacing, ipp[i]!]);
  const z = (v: number) => v + 0; // no negative zeros
  return [lps[0]!.map((v) => z(-v)), lps[1]!.map((v) => z(-v)), lps[2]!.map(z), [0, 0, 0, 1]];
}

/** The inverse of `dicomAffine`: LPS position, orientation, spacing and slice spacing of a slice. */
export function affineToDicom(affine: number[][]): { ipp: number[]; iop: number[]; pixelSpacing: number[]; sliceSpacing: number } {
  const lps = (col: number) => [-affine[0]![col]! + 0, -affine[1]![col]! + 0, affine[2]![col]! + 0];
  const r = lps(0);
  const c = lps(1);
  const n = lps(2);
  const dc = norm(r) || 1;
  const dr = norm(c) || 1;
  return {
    ipp: lps(3),
    iop: [...r.map((v) => v / dc), ...c.map((v) => v / dr)],
    pixelSpacing: [dr, dc],
    sliceSpacing: norm(n) || 1,
  };
}
