/**
 * The one image type between file I/O and tensors.
 *
 * Pixels are float32, row-major, channels interleaved (`data[(y * width + x) * channels + c]`), the layout of
 * sharp's raw buffers and of an HWC tensor. Values are in the source's units: 0..255 or 0..65535 for photos,
 * rescaled values (RescaleSlope/Intercept, scl_slope/scl_inter applied) for DICOM and NIfTI. After
 * `percentileWindow` the values are normalised to [0, 1] and `meta.window` records how to map them back; the
 * writers do that mapping themselves (see write.ts).
 */

export type ImageFormat = 'png' | 'jpeg' | 'tiff' | 'webp' | 'dicom' | 'nifti';

/** Sample type as stored in the file. */
export type SampleType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'uint64' | 'int64' | 'float32' | 'float64';

/** A linear intensity window in source units: `normalised = (value - low) / (high - low)`. */
export interface IntensityWindow {
  low: number;
  high: number;
  /** The percentiles the window came from, when it came from percentiles. */
  lowPercentile?: number;
  highPercentile?: number;
}

/**
 * Where a 2-D image sits in the patient: a 4x4 matrix mapping (column, row, slice, 1) to world millimetres in
 * NIfTI's RAS+ convention (+x towards the patient's right, +y anterior, +z superior).
 * The third column is the slice normal scaled by the slice spacing, so the matrix is invertible.
 */
export interface SliceGeometry {
  affine: number[][];
}

/** DICOM header fields kept for writing a derived image back. */
export interface DicomMeta {
  /** The naturalised dcmjs dataset without its pixel data (and without per-frame groups of other frames). */
  dataset: Record<string, unknown>;
  transferSyntaxUID: string;
  sopClassUID?: string;
  sopInstanceUID?: string;
  /** 0-based frame number within the source file. */
  frame: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  photometricInterpretation: string;
  /** True when the source was MONOCHROME1 and the values were inverted so that bright means high. */
  inverted: boolean;
  /** The source's stored-value representation: container bits, significant bits, signedness. */
  bitsAllocated?: number;
  bitsStored?: number;
  signed?: boolean;
  /**
   * This frame's geometry, rescale and window attributes as the source spells them (from the per-frame or shared
   * functional groups of an enhanced object, else the top level).
   */
  frameAttributes?: Record<string, unknown>;
}

/** NIfTI header fields kept for writing back and for knowing where a slice came from. */
export interface NiftiMeta {
  version: 1 | 2;
  datatypeCode: number;
  littleEndian: boolean;
  /** dim[0..7] of the source. */
  dims: number[];
  /** pixdim[0..7] of the source. */
  pixdim: number[];
  qformCode: number;
  sformCode: number;
  /** Voxel-to-world (RAS) affine of the volume, or undefined when both transform codes are 0. */
  affine?: number[][];
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  description: string;
  /** The anatomical axis the volume was sliced along, and which slice / volume this image is. */
  axis: 'x' | 'y' | 'z';
  slice: number;
  volume: number;
  /** How many volumes the file holds (dim[4]). */
  volumes?: number;
  /**
   * How this image's (column, row, slice) map to the file's voxel axes (i, j, k): for each, the voxel axis and
   * whether it runs backwards. The NIfTI writer uses it to put slices back in the source's voxel order.
   */
  layout?: { axes: [number, number, number]; flips: [boolean, boolean, boolean] };
  /** The rest of the source header, kept so a NIfTI output carries it (NIfTI-1 field names). */
  header?: NiftiHeaderFields;
}

/** Source NIfTI header fields that a derived volume keeps. */
export interface NiftiHeaderFields {
  dimInfo: number;
  intentCode: number;
  intentP: [number, number, number];
  intentName: string;
  sliceStart: number;
  sliceEnd: number;
  sliceCode: number;
  sliceDuration: number;
  toffset: number;
  calMin: number;
  calMax: number;
  auxFile: string;
  /** scl_slope and scl_inter exactly as stored (0 means "no scaling"). */
  sclSlopeRaw: number;
  sclInterRaw: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z. */
  srow: number[][];
}

export interface ImageMeta {
  format: ImageFormat;
  /** Path of the file the image was read from ('' for images made in memory). */
  source: string;
  /** Sample type in the file. */
  dtype: SampleType;
  /** Significant bits per sample in the file (DICOM BitsStored; 8 or 16 for photos; 32 or 64 for floats). */
  bitDepth: number;
  /** Minimum and maximum of `data` as read, in source units (alpha excluded). */
  range: { min: number; max: number };
  /** True when the last channel is alpha. */
  hasAlpha: boolean;
  /** Which slice, frame or page of the file this is (0-based), and how many the file holds. */
  sliceIndex: number;
  sliceCount: number;
  /** Position in the patient, when the source says (DICOM and NIfTI). */
  geometry?: SliceGeometry;
  /** Set by `percentileWindow`: the data is normalised and this maps it back to source units. */
  window?: IntensityWindow;
  dicom?: DicomMeta;
  nifti?: NiftiMeta;
  /** EXIF orientation of the source photo (already applied to the pixels). */
  orientation?: number;
}

export interface RawImage {
  data: Float32Array;
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  meta: ImageMeta;
}

/** Min and max of the colour samples (alpha excluded, NaN ignored). */
export function valueRange(data: Float32Array, channels = 1, hasAlpha = false): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  const colour = hasAlpha ? channels - 1 : channels;
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < colour; c++) {
      const v = data[i + c]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** A new in-memory image (format 'png', float32). Data defaults to zeros. */
export function createImage(width: number, height: number, channels = 1, data?: Float32Array, meta: Partial<ImageMeta> = {}): RawImage {
  const pixels = data ?? new Float32Array(width * height * channels);
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`createImage: data has ${pixels.length} values, expected ${width}x${height}x${channels}`);
  }
  const hasAlpha = meta.hasAlpha ?? (channels === 2 || channels === 4);
  return {
    data: pixels,
    width,
    height,
    channels,
    meta: {
      format: 'png',
      source: '',
      dtype: 'float32',
      bitDepth: 32,
      sliceIndex: 0,
      sliceCount: 1,
      ...meta,
      hasAlpha,
      range: valueRange(pixels, channels, hasAlpha),
    },
  };
}

/** The same image with new pixel data (same size and channels) and its range recomputed. */
export function withData(image: RawImage, data: Float32Array, meta: Partial<ImageMeta> = {}): RawImage {
  if (data.length !== image.width * image.height * image.channels) {
    throw new RangeError(`withData: data has ${data.length} values, expected ${image.width}x${image.height}x${image.channels}`);
  }
  const merged = { ...image.meta, ...meta };
  return { ...image, data, meta: { ...merged, range: valueRange(data, image.channels, merged.hasAlpha) } };
}

/** A deep copy of plain data (objects, arrays, buffers); functions are dropped (dcmjs hangs accessors on its values). */
export function deepCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof ArrayBuffer) return value.slice(0) as T;
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice(): unknown }).slice() as T;
  if (Array.isArray(value)) return value.map((v) => deepCopy(v)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'function') out[k] = deepCopy(v);
  return out as T;
}

/** A deep copy (pixels and meta; functions dropped). */
export function cloneImage(image: RawImage): RawImage {
  return { ...image, data: image.data.slice(), meta: deepCopy(image.meta) };
}

/**
 * One grey channel: Rec. 601 luma (0.299 R + 0.587 G + 0.114 B, as PIL and OpenCV do) for colour, alpha dropped.
 * A grey image without alpha is returned as is.
 */
export function toGray(image: RawImage): RawImage {
  const { width, height, channels } = image;
  if (channels === 1) return image;
  const n = width * height;
  const out = new Float32Array(n);
  const src = image.data;
  if (channels < 3) {
    for (let i = 0; i < n; i++) out[i] = src[i * channels]!;
  } else {
    for (let i = 0; i < n; i++) {
      const o = i * channels;
      out[i] = 0.299 * src[o]! + 0.587 * src[o + 1]! + 0.114 * src[o + 2]!;
    }
  }
  return { data: out, width, height, channels: 1, meta: { ...image.meta, hasAlpha: false, range: valueRange(out) } };
}

/** Alias of `toGray`, for readers who think in luminance. */
export const luminance = toGray;

/** The image without its alpha channel (unchanged when it has none). */
export function dropAlpha(image: RawImage): RawImage {
  if (!image.meta.hasAlpha) return image;
  const { width, height, channels } = image;
  const keep = channels - 1;
  const n = width * height;
  const out = new Float32Array(n * keep);
  for (let i = 0; i < n; i++) for (let c = 0; c < keep; c++) out[i * keep + c] = image.data[i * channels + c]!;
  return { data: out, width, height, channels: keep, meta: { ...image.meta, hasAlpha: false } };
}

/** One channel as a grey image. */
export function channel(image: RawImage, c: number): RawImage {
  if (!Number.isInteger(c) || c < 0 || c >= image.channels) throw new RangeError(`channel ${c} out of range 0..${image.channels - 1}`);
  const n = image.width * image.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = image.data[i * image.channels + c]!;
  return { data: out, width: image.width, height: image.height, channels: 1, meta: { ...image.meta, hasAlpha: false, range: valueRange(out) } };
}

/**
 * A slice option against the file's slice count: 'middle' picks floor(count / 2); a slice outside the file is a
 * RangeError, which the reader turns into an InputError naming the file.
 */
export function resolveSlice(slice: number | 'middle', count: number, what = 'slice'): number {
  if (slice === 'middle') return Math.floor(count / 2);
  if (!Number.isInteger(slice) || slice < 0 || slice >= count) {
    throw new RangeError(`${what} ${slice} is out of range: the file holds ${count} ${what}${count === 1 ? '' : 's'} (0..${count - 1})`);
  }
  return slice;
}
