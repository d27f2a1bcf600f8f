/**
 * NIfTI-1 and NIfTI-2 volumes (header through nifti-reader-js, voxels read here), and NIfTI-1 writing.
 *
 * Display orientation. When the header has a transform (qform or sform), the volume is first put in the nearest
 * RAS axis order (no resampling: axes are only permuted and flipped), then sliced along the anatomical axis asked
 * for, and each slice is laid out the way radiological viewers show DICOM:
 *   - axis 'z' (axial):    patient's right on the image's left, anterior at the top;
 *   - axis 'y' (coronal):  patient's right on the image's left, superior at the top;
 *   - axis 'x' (sagittal): anterior on the image's left, superior at the top.
 * Slice 0 is the most inferior (z), posterior (y) or right-most (x) slice. A volume one voxel thick (a 2-D slice
 * saved as NIfTI) is sliced across its thin axis by default, so it reads back as the image it was. Without a transform (qform_code and
 * sform_code both 0) there is no anatomy to go by: slices are shown as stored, first voxel at the top left, with
 * 'x'/'y'/'z' meaning the first/second/third voxel axis.
 *
 * Every slice carries its geometry (column, row, slice -> RAS mm), so a slice written back as NIfTI or DICOM lands
 * where it came from.
 */
import * as nifti from 'nifti-reader-js';
import type { NiftiHeaderFields, NiftiMeta, RawImage, SampleType, SliceGeometry } from './image.js';
import { DEFAULT_LIMITS, checkBytes, checkPixels, type InputLimits } from './limits.js';
import { resolveSlice, valueRange } from './image.js';
import { chooseRescale } from './dicom/index.js';
import { niftiVersion } from './sniff.js';

export type SliceAxis = 'x' | 'y' | 'z';

export interface NiftiReadOptions {
  /** Anatomical axis to slice along (default 'z', axial; for a single-slice volume, the axis across that slice). */
  axis?: SliceAxis;
  /** Only this slice (0-based, along `axis`), or the middle one. */
  slice?: number | 'middle';
  /** Which volume of a 4-D file, or 'all' (the default): every volume, volume by volume. */
  volume?: number | 'all';
  /** Input limits (default DEFAULT_LIMITS). */
  limits?: InputLimits;
}

interface Datatype {
  name: string;
  bytes: number;
  channels: number;
  dtype: SampleType;
  read: (view: DataView, at: number, little: boolean) => number;
}

const DATATYPES: Record<number, Datatype> = {
  2: { name: 'uint8', bytes: 1, channels: 1, dtype: 'uint8', read: (v, at) => v.getUint8(at) },
  4: { name: 'int16', bytes: 2, channels: 1, dtype: 'int16', read: (v, at, le) => v.getInt16(at, le) },
  8: { name: 'int32', bytes: 4, channels: 1, dtype: 'int32', read: (v, at, le) => v.getInt32(at, le) },
  16: { name: 'float32', bytes: 4, channels: 1, dtype: 'float32', read: (v, at, le) => v.getFloat32(at, le) },
  64: { name: 'float64', bytes: 8, channels: 1, dtype: 'float64', read: (v, at, le) => v.getFloat64(at, le) },
  128: { name: 'RGB24', bytes: 1, channels: 3, dtype: 'uint8', read: (v, at) => v.getUint8(at) },
  256: { name: 'int8', bytes: 1, channels: 1, dtype: 'int8', read: (v, at) => v.getInt8(at) },
  512: { name: 'uint16', bytes: 2, channels: 1, dtype: 'uint16', read: (v, at, le) => v.getUint16(at, le) },
  768: { name: 'uint32', bytes: 4, channels: 1, dtype: 'uint32', read: (v, at, le) => v.getUint32(at, le) },
  1024: { name: 'int64', bytes: 8, channels: 1, dtype: 'int64', read: (v, at, le) => Number(v.getBigInt64(at, le)) },
  1280: { name: 'uint64', bytes: 8, channels: 1, dtype: 'uint64', read: (v, at, le) => Number(v.getBigUint64(at, le)) },
  2304: { name: 'RGBA32', bytes: 1, channels: 4, dtype: 'uint8', read: (v, at) => v.getUint8(at) },
};
const UNSUPPORTED_TYPES: Record<number, string> = { 1: 'binary', 32: 'complex64', 1536: 'float128', 1792: 'complex128', 2048: 'complex256' };

/** For each display direction (column, row, slice): which voxel axis, and whether it runs backwards. */
interface Layout {
  axes: [number, number, number];
  flips: [boolean, boolean, boolean];
}

/** Nearest-axis assignment: for world axis w (x, y, z), the voxel axis that moves most along it and the sign. */
function nearestAxes(affine: number[][]): { voxel: number[]; sign: number[] } {
  const voxel = [-1, -1, -1];
  const sign = [1, 1, 1];
  const usedWorld = new Set<number>();
  const usedVoxel = new Set<number>();
  // Compare direction cosines, not spacings: a thick slice axis must not win over a thin in-plane one.
  const lengths = [0, 1, 2].map((a) => Math.hypot(affine[0]![a]!, affine[1]![a]!, affine[2]![a]!));
  for (let k = 0; k < 3; k++) {
    let best = -1;
    let bw = 0;
    let ba = 0;
    for (let w = 0; w < 3; w++) {
      if (usedWorld.has(w)) continue;
      for (let a = 0; a < 3; a++) {
        if (usedVoxel.has(a)) continue;
        const m = Math.abs(affine[w]![a]!) / (lengths[a] || 1);
        if (m > best) {
          best = m;
          bw = w;
          ba = a;
        }
      }
    }
    usedWorld.add(bw);
    usedVoxel.add(ba);
    voxel[bw] = ba;
    sign[bw] = affine[bw]![ba]! < 0 ? -1 : 1;
  }
  return { voxel, sign };
}

function layoutFor(axis: SliceAxis, affine: number[][] | undefined): Layout {
  const s = { x: 0, y: 1, z: 2 }[axis];
  // In-plane axes: (columns, rows) per slicing axis.
  const [u, v] = s === 2 ? [0, 1] : s === 1 ? [0, 2] : [1, 2];
  if (!affine) return { axes: [u, v, s], flips: [false, false, false] };
  const { voxel, sign } = nearestAxes(affine);
  // Columns and rows run towards decreasing world coordinates (R->L, A->P, S->I); slices towards increasing.
  return { axes: [voxel[u]!, voxel[v]!, voxel[s]!], flips: [sign[u]! > 0, sign[v]! > 0, sign[s]! < 0] };
}

/**
 * 'z', except for a single-slice volume (one voxel axis of length 1, e.g. a 2-D slice written out), which is sliced
 * along that axis so it reads back as the one image it is.
 */
function defaultAxis(dims: number[], affine: number[][] | undefined): SliceAxis {
  const flat = [2, 0, 1].find((a) => dims[a] === 1 && dims.filter((d) => d > 1).length >= 1);
  if (flat === undefined) return 'z';
  if (!affine) return (['x', 'y', 'z'] as const)[flat]!;
  const { voxel } = nearestAxes(affine);
  return (['x', 'y', 'z'] as const)[voxel.indexOf(flat)]!;
}

function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((sum, x, k) => sum + x * b[k]![j]!, 0) + 0));
}

/** The slice's (column, row, t) -> voxel (i, j, k) matrix, for slice index S. */
function sliceToVoxel(layout: Layout, dims: number[], s: number): number[][] {
  const p = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let d = 0; d < 3; d++) {
    const a = layout.axes[d]!;
    const n = dims[a]!;
    const flip = layout.flips[d]!;
    p[a]![d] = flip ? -1 : 1;
    const base = d === 2 ? s : 0;
    p[a]![3] = flip ? n - 1 - base : base;
  }
  return p;
}

function fail(reason: string): never {
  throw new Error(reason);
}

/** The header fields a derived volume keeps, as the source stores them. */
function headerFields(header: nifti.NIFTI1 | nifti.NIFTI2, bytes: Uint8Array, version: 1 | 2, little: boolean): NiftiHeaderFields {
  const h = header as nifti.NIFTI1 & { intent_name?: string; aux_file?: string };
  let srow = header.sform_code > 0 ? header.affine.slice(0, 3).map((row) => row.slice(0, 4)) : [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
  if (header.sform_code <= 0 && version === 1) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => view.getFloat32(280 + r * 16 + c * 4, little)));
  }
  const finite = (v: number) => (Number.isFinite(v) ? v : 0);
  return {
    dimInfo: h.dim_info ?? 0,
    intentCode: h.intent_code ?? 0,
    intentP: [finite(h.intent_p1), finite(h.intent_p2), finite(h.intent_p3)],
    intentName: (h.intent_name ?? '').replace(/\0.*$/, ''),
    sliceStart: h.slice_start ?? 0,
    sliceEnd: h.slice_end ?? 0,
    sliceCode: h.slice_code ?? 0,
    sliceDuration: finite(h.slice_duration),
    toffset: finite(h.toffset),
    calMin: finite(h.cal_min),
    calMax: finite(h.cal_max),
    auxFile: (h.aux_file ?? '').replace(/\0.*$/, ''),
    sclSlopeRaw: finite(h.scl_slope),
    sclInterRaw: finite(h.scl_inter),
    quatern: [finite(h.quatern_b), finite(h.quatern_c), finite(h.quatern_d)],
    qoffset: [finite(h.qoffset_x), finite(h.qoffset_y), finite(h.qoffset_z)],
    srow: srow.map((row) => row.map(finite)),
  };
}

/** Read slices of a NIfTI volume (already decompressed). Errors are plain Errors with a one-line reason. */
export function readNifti(bytes: Uint8Array, source: string, options: NiftiReadOptions = {}): RawImage[] {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const version = niftiVersion(bytes) ?? fail("not a NIfTI file: no 'n+1'/'n+2' magic and header size is not 348 or 540");
  // Hand nifti-reader-js the header and extensions only, not a copy of every voxel.
  const head = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLittle = head.getInt32(0, true) === (version === 1 ? 348 : 540);
  const declaredOffset = version === 1 ? head.getFloat32(108, headLittle) : Number(head.getBigInt64(168, headLittle));
  if (!Number.isFinite(declaredOffset)) fail(`corrupt NIfTI header: vox_offset is ${declaredOffset}`);
  const headerEnd = Math.min(bytes.length, Math.max(version === 1 ? 352 : 544, Math.ceil(declaredOffset)));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + headerEnd) as ArrayBuffer;
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(buffer);
  } catch (err) {
    fail(`corrupt NIfTI header: ${(err as Error).message.split('\n')[0]}`);
  }
  const little = header.littleEndian;
  const rank = header.dims[0]!;
  if (!(rank >= 1 && rank <= 7)) fail(`corrupt NIfTI header: dim[0] is ${rank}, expected 1..7`);
  for (let i = 1; i <= rank; i++) {
    const d = header.dims[i]!;
    if (!(Number.isInteger(d) && d >= 1)) fail(`corrupt NIfTI header: dim[${i}] is ${d}, expected a positive size`);
  }
  const dims = [1, 2, 3, 4, 5, 6, 7].map((i) => (i <= rank ? header.dims[i]! : 1));
  if (dims.slice(4).some((d) => d > 1)) fail(`${rank}-D NIfTI with more than 4 dimensions in use is not supported`);
  const type = DATATYPES[header.datatypeCode];
  if (!type) fail(`NIfTI datatype ${UNSUPPORTED_TYPES[header.datatypeCode] ?? 'unknown'} (${header.datatypeCode}) is not supported`);
  const [nx, ny, nz, nt] = dims as [number, number, number, number];
  const voxelBytes = type.bytes * type.channels;
  const volumeBytes = nx * ny * nz * voxelBytes;
  if (!Number.isFinite(header.vox_offset)) fail(`corrupt NIfTI header: vox_offset is ${header.vox_offset}`);
  const offset = Math.round(header.vox_offset);
  if (offset < (version === 1 ? 348 : 540)) fail(`corrupt NIfTI header: vox_offset ${offset} lies inside the header`);
  const needed = offset + volumeBytes * nt;
  if (bytes.length < needed) {
    fail(`the file is truncated: ${nx}x${ny}x${nz}x${nt} ${type.name} voxels need ${needed} bytes, only ${bytes.length} are present`);
  }

  const hasTransform = header.qform_code > 0 || header.sform_code > 0;
  const affine = hasTransform ? header.affine.map((row) => row.slice(0, 4)) : undefined;
  const axis = options.axis ?? defaultAxis([nx, ny, nz], affine);
  if (!['x', 'y', 'z'].includes(axis)) throw new RangeError(`axis must be 'x', 'y' or 'z', not ${JSON.stringify(axis)}`);
  const volumes = options.volume === undefined || options.volume === 'all' ? Array.from({ length: nt }, (_, i) => i) : [resolveSlice(options.volume, nt, 'volume')];
  const layout = layoutFor(axis, affine);
  const vdims = [nx, ny, nz];
  const width = vdims[layout.axes[0]]!;
  const height = vdims[layout.axes[1]]!;
  const count = vdims[layout.axes[2]]!;
  checkPixels(width, height, limits, 'a slice');
  const wanted = options.slice === undefined ? Array.from({ length: count }, (_, i) => i) : [resolveSlice(options.slice, count)];
  checkBytes(wanted.length * volumes.length * width * height * voxelBytes, limits, 'the slices asked for hold');

  let slope = header.scl_slope;
  let inter = header.scl_inter;
  if (!Number.isFinite(slope) || slope === 0 || type.channels > 1) {
    slope = 1;
    inter = 0;
  }
  if (!Number.isFinite(inter)) inter = 0;

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const strides = [voxelBytes, nx * voxelBytes, nx * ny * voxelBytes];
  const channels = type.channels;
  const pixdim = Array.from({ length: 8 }, (_, i) => header.pixDims[i] ?? 0);
  const fields = headerFields(header, bytes, version, little);

  return volumes.flatMap((volume) =>
    wanted.map((s) => {
      const base = offset + volume * volumeBytes;
      const data = new Float32Array(width * height * channels);
      const p = sliceToVoxel(layout, vdims, s);
      // voxel index = p * (c, r, 0, 1): precompute the byte offset at (0, 0) and per column / row step.
      const at0 = base + [0, 1, 2].reduce((sum, a) => sum + p[a]![3]! * strides[a]!, 0);
      const colStep = [0, 1, 2].reduce((sum, a) => sum + p[a]![0]! * strides[a]!, 0);
      const rowStep = [0, 1, 2].reduce((sum, a) => sum + p[a]![1]! * strides[a]!, 0);
      for (let r = 0, o = 0; r < height; r++) {
        let at = at0 + r * rowStep;
        for (let c = 0; c < width; c++, at += colStep) {
          for (let ch = 0; ch < channels; ch++) data[o++] = type.read(view, at + ch * type.bytes, little) * slope + inter;
        }
      }
      const geometry: SliceGeometry | undefined = affine ? { affine: matmul(affine, p) } : undefined;
      const meta: NiftiMeta = {
        version,
        datatypeCode: header.datatypeCode,
        littleEndian: little,
        dims: [rank, ...dims],
        pixdim,
        qformCode: header.qform_code,
        sformCode: header.sform_code,
        sclSlope: slope,
        sclInter: inter,
        xyztUnits: header.xyzt_units,
        description: header.description ?? '',
        axis,
        slice: s,
        volume,
        volumes: nt,
        layout: { axes: [...layout.axes], flips: [...layout.flips] },
        header: { ...fields, intentP: [...fields.intentP], quatern: [...fields.quatern], qoffset: [...fields.qoffset], srow: fields.srow.map((r) => r.slice()) },
      };
      if (affine) meta.affine = affine;
      return {
        data,
        width,
        height,
        channels,
        meta: {
          format: 'nifti' as const,
          source,
          dtype: type.dtype,
          bitDepth: type.bytes * 8,
          range: valueRange(data, channels),
          hasAlpha: channels === 4,
          sliceIndex: s,
          sliceCount: count,
          ...(geometry ? { geometry } : {}),
          nifti: meta,
        },
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Writing (NIfTI-1, little-endian, single file)

/** nifti1_io's mat44_to_quatern, for an (assumed orthogonal) affine: quaternion b, c, d, offsets, qfac, spacings. */
export function affineToQuaternion(affine: number[][]): { b: number; c: number; d: number; qfac: number; spacing: number[] } {
  const col = (j: number) => [affine[0]![j]!, affine[1]![j]!, affine[2]![j]!];
  const spacing = [0, 1, 2].map((j) => Math.hypot(...col(j)) || 1);
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i]![j]! / spacing[j]!));
  const det =
    r[0]![0]! * (r[1]![1]! * r[2]![2]! - r[1]![2]! * r[2]![1]!) -
    r[0]![1]! * (r[1]![0]! * r[2]![2]! - r[1]![2]! * r[2]![0]!) +
    r[0]![2]! * (r[1]![0]! * r[2]![1]! - r[1]![1]! * r[2]![0]!);
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i]![2] = -r[i]![2]!;
  }
  const [r11, r12, r13] = r[0]! as [number, number, number];
  const [r21, r22, r23] = r[1]! as [number, number, number];
  const [r31, r32, r33] = r[2]! as [number, number, number];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac, spacing };
}

export interface NiftiWriteOptions {
  /**
   * 32: float32; 16: int16/uint16 with scl_slope/scl_inter; 8: uint8 with scaling. Default: the source volume's
   * datatype when the images came from one (values rounded for integer types), else float32.
   */
  bitDepth?: 8 | 16 | 32;
  description?: string;
}

/**
 * Encode images of one size as a NIfTI-1 volume (one image: a single slice). VALUES[i] are image i's samples in
 * source units.
 *
 * Slices read from one NIfTI file (a whole volume, any run of slices, one slice, several whole volumes) are put back
 * in the source's voxel order with its header (see encodeNiftiLikeSource). Anything else is stacked in the order
 * given, with geometry from the first image (the slice step from the first two when there are several).
 */
export function encodeNifti(images: RawImage[], values: Float32Array[], options: NiftiWriteOptions = {}): Uint8Array {
  return encodeNiftiLikeSource(images, values, options) ?? encodeStacked(images, values, options);
}

/**
 * How a stacked image's display pixels go to the written voxels. Slices of a NIfTI file are displayed in RAS order
 * (axes permuted and flipped from the file's); a new volume made from them (a resized slice, a stack of feature maps)
 * is written with its in-plane axes in the source file's voxel order again, so `get_fdata()[..., k]` lines up with
 * the source slice in a notebook. Returns the written in-plane size, the display index of written voxel (a, b), and
 * the matrix from written (a, b, k) to display (u, v, k).
 */
function inPlaneOrder(meta: RawImage['meta'], width: number, height: number) {
  const layout = meta.nifti?.layout;
  const f0 = layout?.flips[0] ?? false;
  const f1 = layout?.flips[1] ?? false;
  const transposed = layout !== undefined && layout.axes[0]! > layout.axes[1]!;
  const [w, h] = transposed ? [height, width] : [width, height];
  const u = (a: number, b: number) => { const x = transposed ? b : a; return f0 ? width - 1 - x : x; };
  const v = (a: number, b: number) => { const y = transposed ? a : b; return f1 ? height - 1 - y : y; };
  const col = (flip: boolean, n: number): [number, number] => (flip ? [-1, n - 1] : [1, 0]);
  const [s0, o0] = col(f0, width);
  const [s1, o1] = col(f1, height);
  const toDisplay = transposed
    ? [[0, s0, 0, o0], [s1, 0, 0, o1], [0, 0, 1, 0], [0, 0, 0, 1]]
    : [[s0, 0, 0, o0], [0, s1, 0, o1], [0, 0, 1, 0], [0, 0, 0, 1]];
  const identity = !transposed && !f0 && !f1;
  return { w, h, index: (a: number, b: number) => v(a, b) * width + u(a, b), toDisplay, identity };
}

function encodeStacked(images: RawImage[], values: Float32Array[], options: NiftiWriteOptions): Uint8Array {
  const firstImage = images[0]!;
  const { width, height } = firstImage;
  const depth = images.length;
  const rgb = firstImage.channels >= 3;
  const order = inPlaneOrder(firstImage.meta, width, height);
  const bitDepth = options.bitDepth ?? 32;
  // Samples to store: grey (first channel) or RGB.
  const grey = values.map((v, i) => {
    const img = images[i]!;
    if (img.channels === 1 || rgb) return v;
    return Float32Array.from({ length: width * height }, (_, p) => v[p * img.channels]!);
  });

  let datatype: number;
  let bitpix: number;
  let slope = 1;
  let inter = 0;
  if (rgb) {
    datatype = 128;
    bitpix = 24;
  } else if (bitDepth === 32) {
    datatype = 16;
    bitpix = 32;
  } else {
    const all = new Float32Array(width * height * depth);
    grey.forEach((g, i) => all.set(g, i * width * height));
    if (bitDepth === 16) {
      const m = firstImage.meta;
      const preferred = m.nifti ? { slope: m.nifti.sclSlope, intercept: m.nifti.sclInter } : m.dicom ? { slope: m.dicom.rescaleSlope, intercept: m.dicom.rescaleIntercept } : undefined;
      const r = chooseRescale(all, preferred);
      datatype = r.signed ? 4 : 512;
      slope = r.slope;
      inter = r.intercept;
      bitpix = 16;
    } else {
      const { min, max } = valueRange(all);
      datatype = 2;
      bitpix = 8;
      const integral = all.every((v) => Number.isInteger(v)) && min >= 0 && max <= 255;
      if (!integral) {
        slope = max > min ? (max - min) / 255 : 1;
        inter = min;
      }
    }
  }

  const headerSize = 352;
  const voxelBytes = bitpix / 8;
  const sliceVoxels = width * height;
  const out = new Uint8Array(headerSize + sliceVoxels * depth * voxelBytes);
  const view = new DataView(out.buffer);
  const le = true;
  view.setInt32(0, 348, le);
  out[38] = 'r'.charCodeAt(0);
  const dim = [3, order.w, order.h, depth, 1, 1, 1, 1];
  dim.forEach((d, i) => view.setInt16(40 + i * 2, d, le));
  view.setInt16(70, datatype, le);
  view.setInt16(72, bitpix, le);

  const source = firstImage.meta.nifti;
  const geometry = firstImage.meta.geometry;
  let affine: number[][] | undefined;
  if (geometry) {
    affine = geometry.affine.map((row) => row.slice());
    if (depth > 1 && images[1]!.meta.geometry) {
      const next = images[1]!.meta.geometry.affine;
      for (let i = 0; i < 3; i++) affine[i]![2] = next[i]![3]! - affine[i]![3]!;
    }
    if (!order.identity) affine = matmul(affine, order.toDisplay).slice(0, 3).concat([[0, 0, 0, 1]]);
  }
  const pixdim = [1, 1, 1, 1, 0, 0, 0, 0];
  let qformCode = 0;
  let sformCode = 0;
  if (affine) {
    const q = affineToQuaternion(affine);
    pixdim[0] = q.qfac;
    pixdim[1] = q.spacing[0]!;
    pixdim[2] = q.spacing[1]!;
    pixdim[3] = q.spacing[2]!;
    // The source's codes as they were (a NIfTI with qform_code 0 keeps it 0); DICOM geometry is scanner-anatomical.
    const kept = source !== undefined && (source.qformCode !== 0 || source.sformCode !== 0);
    qformCode = !source ? 1 : kept ? source.qformCode : 0;
    sformCode = !source ? 1 : kept ? source.sformCode : 0;
    view.setFloat32(256, q.b, le);
    view.setFloat32(260, q.c, le);
    view.setFloat32(264, q.d, le);
    view.setFloat32(268, affine[0]![3]!, le);
    view.setFloat32(272, affine[1]![3]!, le);
    view.setFloat32(276, affine[2]![3]!, le);
    for (let j = 0; j < 4; j++) {
      view.setFloat32(280 + j * 4, affine[0]![j]!, le);
      view.setFloat32(296 + j * 4, affine[1]![j]!, le);
      view.setFloat32(312 + j * 4, affine[2]![j]!, le);
    }
  } else if (source) {
    pixdim[1] = source.pixdim[1] || 1;
    pixdim[2] = source.pixdim[2] || 1;
    pixdim[3] = source.pixdim[3] || 1;
  }
  pixdim.forEach((p, i) => view.setFloat32(76 + i * 4, p, le));
  view.setFloat32(108, headerSize, le);
  view.setFloat32(112, slope, le);
  view.setFloat32(116, inter, le);
  out[123] = source ? source.xyztUnits & 0x07 || 2 : 2; // the source's spatial unit, else mm
  const window = firstImage.meta.window;
  if (window) {
    view.setFloat32(124, window.high, le);
    view.setFloat32(128, window.low, le);
  }
  const description = (options.description ?? source?.description ?? 'unet-dream').slice(0, 79);
  for (let i = 0; i < description.length; i++) out[148 + i] = description.charCodeAt(i) & 0x7f;
  view.setInt16(252, qformCode, le);
  view.setInt16(254, sformCode, le);
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // 'n+1\0'; bytes 348..351: no extensions

  let at = headerSize;
  for (let z = 0; z < depth; z++) {
    const v = grey[z]!;
    const img = images[z]!;
    if (rgb) {
      for (let p = 0; p < sliceVoxels; p++) {
        const q = order.identity ? p : order.index(p % order.w, Math.floor(p / order.w));
        for (let c = 0; c < 3; c++) {
          const x = Math.round(v[q * img.channels + c]!);
          out[at++] = x < 0 ? 0 : x > 255 ? 255 : x;
        }
      }
      continue;
    }
    for (let p = 0; p < sliceVoxels; p++, at += voxelBytes) {
      const x = order.identity ? v[p]! : v[order.index(p % order.w, Math.floor(p / order.w))]!;
      if (datatype === 16) view.setFloat32(at, x, le);
      else {
        const q = Math.round((x - inter) / slope);
        const s = Number.isFinite(q) ? q : 0;
        if (datatype === 4) view.setInt16(at, Math.max(-32768, Math.min(32767, s)), le);
        else if (datatype === 512) view.setUint16(at, Math.max(0, Math.min(65535, s)), le);
        else view.setUint8(at, Math.max(0, Math.min(255, s)));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing slices back into their source's voxel order and header

const INTEGER_RANGES: Record<number, [number, number]> = {
  2: [0, 255],
  4: [-32768, 32767],
  8: [-2147483648, 2147483647],
  256: [-128, 127],
  512: [0, 65535],
  768: [0, 4294967295],
};
const BITPIX: Record<number, number> = { 2: 8, 4: 16, 8: 32, 16: 32, 64: 64, 128: 24, 256: 8, 512: 16, 768: 32, 2304: 32 };

/** The qform's voxel -> world matrix (nifti1_io's quatern_to_mat44). */
function quaternToAffine(quatern: number[], qoffset: number[], pixdim: number[]): number[][] {
  const [b, c, d] = quatern as [number, number, number];
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const qfac = pixdim[0]! < 0 ? -1 : 1;
  const [dx, dy, dz] = [pixdim[1]! || 1, pixdim[2]! || 1, (pixdim[3]! || 1) * qfac];
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  return [0, 1, 2].map((i) => [r[i]![0]! * dx, r[i]![1]! * dy, r[i]![2]! * dz, qoffset[i]!]);
}

interface Storage {
  datatype: number;
  slope: number;
  inter: number;
  /** scl_slope / scl_inter as written (0 / 0 when the values need no scaling). */
  sclSlope: number;
  sclInter: number;
}

/**
 * How to store VALUES as DATATYPE: integer types round each value to the grid of the preferred scaling (the
 * source's) when every value fits the type there, else spread the values over the type's range with a new
 * scl_slope / scl_inter. Float types store values as they are.
 */
function storageFor(datatype: number, all: Float32Array, preferred: { slope: number; inter: number; raw: [number, number] }): Storage {
  const range = INTEGER_RANGES[datatype];
  const unscaled = (slope: number, inter: number): Storage => {
    if (slope === preferred.slope && inter === preferred.inter) return { datatype, slope, inter, sclSlope: preferred.raw[0], sclInter: preferred.raw[1] };
    return slope === 1 && inter === 0 ? { datatype, slope, inter, sclSlope: 0, sclInter: 0 } : { datatype, slope, inter, sclSlope: slope, sclInter: inter };
  };
  if (!range) {
    const keep = preferred.slope === 1 && preferred.inter === 0;
    return keep ? { datatype, slope: 1, inter: 0, sclSlope: preferred.raw[0], sclInter: preferred.raw[1] } : { datatype, slope: 1, inter: 0, sclSlope: 0, sclInter: 0 };
  }
  const [lo, hi] = range;
  const fits = (slope: number, inter: number) => {
    for (let i = 0; i < all.length; i++) {
      const q = Math.round((all[i]! - inter) / slope);
      if (!(q >= lo && q <= hi) && !Number.isNaN(all[i]!)) return false;
    }
    return true;
  };
  if (fits(preferred.slope, preferred.inter)) return unscaled(preferred.slope, preferred.inter);
  if (fits(1, 0)) return unscaled(1, 0);
  const { min, max } = valueRange(all);
  const slope = max > min ? (max - min) / (hi - lo) : 1;
  const inter = min - lo * slope;
  return { datatype, slope, inter, sclSlope: slope, sclInter: inter };
}

/**
 * The datatype and scaling to write: by default the source's datatype (integer values rounded to its grid); a bit
 * depth asks for float32 (32), 16-bit integers on the source's scl grid when the values lie on it, else spread
 * over the range (16), or uint8 (8).
 */
function chooseStorage(source: NiftiMeta, all: Float32Array, bitDepth: 8 | 16 | 32 | undefined): Storage {
  const h = source.header!;
  const sameType = (datatype: number) => (datatype === source.datatypeCode ? { slope: source.sclSlope, inter: source.sclInter, raw: [h.sclSlopeRaw, h.sclInterRaw] as [number, number] } : { slope: 1, inter: 0, raw: [0, 0] as [number, number] });
  const scaled = (datatype: number, slope: number, inter: number): Storage => {
    const p = sameType(datatype);
    if (slope === p.slope && inter === p.inter) return { datatype, slope, inter, sclSlope: p.raw[0], sclInter: p.raw[1] };
    return slope === 1 && inter === 0 ? { datatype, slope, inter, sclSlope: 0, sclInter: 0 } : { datatype, slope, inter, sclSlope: slope, sclInter: inter };
  };
  if (bitDepth === 32) return scaled(16, 1, 0);
  if (bitDepth === 16) {
    const r = chooseRescale(all, { slope: source.sclSlope, intercept: source.sclInter });
    return scaled(r.signed ? 4 : 512, r.slope, r.intercept);
  }
  if (bitDepth === 8) {
    const { min, max } = valueRange(all);
    const integral = all.every((v) => Number.isInteger(v)) && min >= 0 && max <= 255;
    return integral ? scaled(2, 1, 0) : scaled(2, max > min ? (max - min) / 255 : 1, min);
  }
  // 64-bit integers: doubles hold the values read.
  const datatype = source.datatypeCode === 1024 || source.datatypeCode === 1280 ? 64 : source.datatypeCode;
  return storageFor(datatype, all, sameType(datatype));
}

/**
 * Slices read from one NIfTI file written back as that file was: the source's voxel order (no axis flipped or
 * permuted), qform and sform with their codes (only the offset moved when a run of slices starting past the first
 * is written), pixdim (with TR), units, dim_info, intent, slice timing, description and aux_file; the source's
 * datatype (integer types rounded, scl_slope / scl_inter only when the values need them) unless a bit depth is
 * asked for; cal_min / cal_max set to the written values' range when the source had a display range. Several whole
 * volumes of a 4-D file keep the 4-D shape.
 *
 * Undefined when the images did not come from one file in a shape this can rebuild (resized, mixed sources, or
 * slices that do not make a block): the caller then stacks them as given.
 */
export function encodeNiftiLikeSource(images: RawImage[], values: Float32Array[], options: NiftiWriteOptions = {}): Uint8Array | undefined {
  const first = images[0]!.meta.nifti;
  if (!first?.layout || !first.header) return undefined;
  const source = images[0]!.meta.source;
  const [nx, ny, nz] = [first.dims[1]!, first.dims[2]!, first.dims[3]!];
  const vdims = [nx, ny, nz];
  const { axes, flips } = first.layout;
  const sliceAxis = axes[2];
  const same = (m: NiftiMeta | undefined) =>
    m?.layout !== undefined && m.header !== undefined && m.axis === first.axis && m.layout.axes.every((a, i) => a === axes[i]) && m.layout.flips.every((f, i) => f === flips[i]) && m.dims.every((d, i) => d === first.dims[i]);
  const channels = DATATYPES[first.datatypeCode]?.channels ?? 1;
  for (const image of images) {
    if (image.meta.source !== source || !same(image.meta.nifti)) return undefined;
    if (image.width !== vdims[axes[0]] || image.height !== vdims[axes[1]] || image.channels < channels || (channels === 1 && image.channels !== 1 && !image.meta.hasAlpha)) return undefined;
  }
  // The slices must make a block: every chosen volume with every chosen slice, each once, both runs contiguous.
  const sliceVoxel = (s: number) => (flips[2] ? vdims[sliceAxis]! - 1 - s : s);
  const ks = [...new Set(images.map((i) => sliceVoxel(i.meta.nifti!.slice)))].sort((a, b) => a - b);
  const ts = [...new Set(images.map((i) => i.meta.nifti!.volume))].sort((a, b) => a - b);
  const keys = new Set(images.map((i) => `${i.meta.nifti!.volume}:${sliceVoxel(i.meta.nifti!.slice)}`));
  if (keys.size !== images.length || ks.length * ts.length !== images.length) return undefined;
  if (ks[ks.length - 1]! - ks[0]! !== ks.length - 1 || ts[ts.length - 1]! - ts[0]! !== ts.length - 1) return undefined;
  const k0 = ks[0]!;
  const t0 = ts[0]!;

  const out = [nx, ny, nz];
  out[sliceAxis] = ks.length;
  const nt = ts.length;
  const volumeVoxels = out[0]! * out[1]! * out[2]!;
  const h = first.header;

  // Values in the file's voxel order.
  const ordered = new Float32Array(volumeVoxels * nt * channels);
  const outStrides = [1, out[0]!, out[0]! * out[1]!];
  images.forEach((image, i) => {
    const m = image.meta.nifti!;
    const p = sliceToVoxel(first.layout as Layout, vdims, m.slice);
    let base = (m.volume - t0) * volumeVoxels;
    let colStep = 0;
    let rowStep = 0;
    for (let a = 0; a < 3; a++) {
      base += (p[a]![3]! - (a === sliceAxis ? k0 : 0)) * outStrides[a]!;
      colStep += p[a]![0]! * outStrides[a]!;
      rowStep += p[a]![1]! * outStrides[a]!;
    }
    const v = values[i]!;
    for (let r = 0, o = 0; r < image.height; r++) {
      let at = base + r * rowStep;
      for (let c = 0; c < image.width; c++, at += colStep, o += image.channels) {
        for (let ch = 0; ch < channels; ch++) ordered[at * channels + ch] = v[o + ch]!;
      }
    }
  });

  const rgb = channels > 1;
  const storage = rgb ? { datatype: 128, slope: 1, inter: 0, sclSlope: 0, sclInter: 0 } : chooseStorage(first, ordered, options.bitDepth);
  const datatype = storage.datatype;
  const bitpix = BITPIX[datatype]!;
  const voxelBytes = bitpix / 8;
  const headerSize = 352;
  const bytes = new Uint8Array(headerSize + volumeVoxels * nt * voxelBytes);
  const view = new DataView(bytes.buffer);
  const le = true;

  // Samples, and the range of the values they stand for.
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0, at = headerSize; i < volumeVoxels * nt; i++) {
    if (rgb) {
      for (let ch = 0; ch < 3; ch++) bytes[at++] = clamp(Math.round(ordered[i * channels + ch]!), 0, 255);
      continue;
    }
    const x = ordered[i]!;
    let stored: number;
    if (datatype === 16 || datatype === 64) {
      stored = x;
      if (datatype === 16) view.setFloat32(at, x, le);
      else view.setFloat64(at, x, le);
    } else {
      const [lo, hi] = INTEGER_RANGES[datatype]!;
      const q = Math.round((x - storage.inter) / storage.slope);
      const s = Number.isFinite(q) ? clamp(q, lo, hi) : 0;
      stored = s * storage.slope + storage.inter;
      if (datatype === 2) view.setUint8(at, s);
      else if (datatype === 256) view.setInt8(at, s);
      else if (datatype === 4) view.setInt16(at, s, le);
      else if (datatype === 512) view.setUint16(at, s, le);
      else if (datatype === 8) view.setInt32(at, s, le);
      else view.setUint32(at, s, le);
    }
    at += voxelBytes;
    if (stored < min) min = stored;
    if (stored > max) max = stored;
  }

  // Header: the source's, with the shape, datatype, scaling, display range and offsets of what is written.
  view.setInt32(0, 348, le);
  bytes[38] = 'r'.charCodeAt(0);
  bytes[39] = h.dimInfo;
  const rank = nt > 1 ? 4 : Math.min(first.dims[0]!, 3) || 3;
  const dim = [rank, out[0]!, out[1]!, out[2]!, nt, 1, 1, 1];
  dim.forEach((d, i) => view.setInt16(40 + i * 2, d, le));
  view.setFloat32(56, h.intentP[0], le);
  view.setFloat32(60, h.intentP[1], le);
  view.setFloat32(64, h.intentP[2], le);
  view.setInt16(68, h.intentCode, le);
  view.setInt16(70, datatype, le);
  view.setInt16(72, bitpix, le);
  const sliceKept = out[sliceAxis] === vdims[sliceAxis] || ((h.dimInfo >> 4) & 3) !== sliceAxis + 1;
  view.setInt16(74, sliceKept ? h.sliceStart : 0, le);
  first.pixdim.forEach((p, i) => view.setFloat32(76 + i * 4, i === 0 ? (p < 0 ? -1 : p === 0 ? 0 : 1) : p, le));
  view.setFloat32(108, headerSize, le);
  view.setFloat32(112, storage.sclSlope, le);
  view.setFloat32(116, storage.sclInter, le);
  view.setInt16(120, sliceKept ? h.sliceEnd : 0, le);
  bytes[122] = sliceKept ? h.sliceCode : 0;
  bytes[123] = first.xyztUnits;
  const displayRange = h.calMax > h.calMin && min <= max;
  view.setFloat32(124, displayRange ? max : 0, le);
  view.setFloat32(128, displayRange ? min : 0, le);
  view.setFloat32(132, h.sliceDuration, le);
  view.setFloat32(136, h.toffset + (t0 > 0 ? t0 * (first.pixdim[4] ?? 0) : 0), le);
  writeAscii(bytes, 148, 80, options.description ?? first.description);
  writeAscii(bytes, 228, 24, h.auxFile);
  view.setInt16(252, first.qformCode, le);
  view.setInt16(254, first.sformCode, le);
  // Only the offset moves, to the first voxel written (along the slice axis).
  const qform = quaternToAffine(h.quatern, h.qoffset, first.pixdim);
  h.quatern.forEach((q, i) => view.setFloat32(256 + i * 4, q, le));
  for (let i = 0; i < 3; i++) view.setFloat32(268 + i * 4, h.qoffset[i]! + (first.qformCode > 0 ? qform[i]![sliceAxis]! * k0 : 0), le);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      const v = h.srow[r]![c]! + (c === 3 && first.sformCode > 0 ? h.srow[r]![sliceAxis]! * k0 : 0);
      view.setFloat32(280 + r * 16 + c * 4, v, le);
    }
  }
  writeAscii(bytes, 328, 16, h.intentName);
  bytes.set([0x6e, 0x2b, 0x31, 0x00], 344);
  return bytes;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function writeAscii(bytes: Uint8Array, at: number, length: number, text: string): void {
  const s = text.slice(0, length - 1);
  for (let i = 0; i < s.length; i++) bytes[at + i] = s.charCodeAt(i) & 0x7f;
}
