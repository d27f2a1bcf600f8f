/**
 * Writing a derived DICOM object from an image: built from the source's dataset when there is one (patient and
 * study kept, new series and instance UIDs, ImageType DERIVED\SECONDARY, no InstanceCreatorUID), Explicit VR Little
 * Endian.
 *
 * Values. A grey image from a DICOM source keeps the source's stored-value representation (BitsAllocated,
 * BitsStored, PixelRepresentation, MONOCHROME1/2 and its RescaleSlope/Intercept, or none when it had none) whenever
 * the values, rounded to that representation's grid, fit its range; only otherwise are 16-bit samples with a new
 * RescaleSlope/Intercept chosen. WindowCenter/Width, their explanation, VOILUTFunction and RescaleType are the
 * source's. Attributes copied unchanged keep the source's own strings (DS and IS values are not re-formatted), and
 * so does the geometry when the image still sits where the source frame did.
 */
import { randomUUID } from 'node:crypto';
import type { RawImage } from '../image.js';
import { deepCopy, valueRange } from '../image.js';
import { affineToDicom, dicomAffine, num, nums, str } from './dataset.js';
import { dcmjs, quietly, type Dataset } from './dcmjs.js';
import { clamp255 } from './pixels.js';
import { EXPLICIT_LE } from './syntax.js';

/** A new UID under the UUID root: '2.25.' and a random (version 4) UUID as a decimal integer. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

const IMPLEMENTATION_CLASS_UID = '2.25.243016783611508593262301580770215234724';
const IMPLEMENTATION_VERSION = 'UNET_DREAM_0_1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
/** Enhanced (multi-frame) classes whose single frames are written as the classic single-frame class. */
const CLASSIC_OF: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.4.1': MR_IMAGE,
  '1.2.840.10008.5.1.4.1.1.4.4': MR_IMAGE,
  '1.2.840.10008.5.1.4.1.1.2.1': CT_IMAGE,
  '1.2.840.10008.5.1.4.1.1.2.2': CT_IMAGE,
};
const SINGLE_FRAME_CLASSES = new Set([MR_IMAGE, CT_IMAGE, SECONDARY_CAPTURE, '1.2.840.10008.5.1.4.1.1.128', '1.2.840.10008.5.1.4.1.1.20']);

/** Attributes that describe the source's pixel encoding or frames and would be wrong for the derived image. */
const DROPPED = new Set([
  'PixelData',
  'FloatPixelData',
  'DoubleFloatPixelData',
  'PerFrameFunctionalGroupsSequence',
  'SharedFunctionalGroupsSequence',
  'NumberOfFrames',
  'FrameIncrementPointer',
  'SmallestImagePixelValue',
  'LargestImagePixelValue',
  'SmallestPixelValueInSeries',
  'LargestPixelValueInSeries',
  'PixelPaddingValue',
  'PixelPaddingRangeLimit',
  'PlanarConfiguration',
  'WindowCenter',
  'WindowWidth',
  'WindowCenterWidthExplanation',
  'VOILUTFunction',
  'VOILUTSequence',
  'ModalityLUTSequence',
  'RedPaletteColorLookupTableDescriptor',
  'GreenPaletteColorLookupTableDescriptor',
  'BluePaletteColorLookupTableDescriptor',
  'RedPaletteColorLookupTableData',
  'GreenPaletteColorLookupTableData',
  'BluePaletteColorLookupTableData',
  'IconImageSequence',
  'DataSetTrailingPadding',
  'RescaleSlope',
  'RescaleIntercept',
  'RescaleType',
  'InstanceCreatorUID',
  'SourceImageSequence',
  'DerivationDescription',
  'DerivationCodeSequence',
]);

/** A decimal string (DS) of at most 16 characters. */
export function formatDS(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  for (let digits = 15; digits >= 1; digits--) {
    let s = value.toPrecision(digits);
    if (s.includes('e')) s = s.replace(/\.?0+e/, 'e');
    else if (s.includes('.')) s = s.replace(/\.?0+$/, '');
    if (s.length <= 16) return s;
  }
  return value.toExponential(6);
}

function dicomDate(d: Date): { date: string; time: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return { date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`, time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}` };
}

export interface DicomWriteOptions {
  /** SeriesDescription and DerivationDescription: what was done. */
  description?: string;
  /** Series UID of the derived series; by default one new UID per source series per process. */
  seriesInstanceUID?: string;
  seriesNumber?: number;
}

const derivedSeries = new Map<string, string>();

/**
 * How float values are stored as 16-bit integers, and the rescale (value = stored * slope + intercept) that maps
 * them back. PREFERRED (e.g. the source's own rescale) is kept when every value is on its grid and in range, so an
 * unmodified image round-trips exactly; otherwise integers are stored as they are when they fit, and anything else
 * is spread over 0..65535.
 */
export function chooseRescale(values: Float32Array, preferred?: { slope: number; intercept: number }): { signed: boolean; slope: number; intercept: number } {
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && !Number.isInteger(v)) integral = false;
  }
  if (!(min <= max)) return { signed: false, slope: 1, intercept: 0 };
  if (integral && min >= 0 && max <= 65535) return { signed: false, slope: 1, intercept: 0 };
  if (integral && min >= -32768 && max <= 32767) return { signed: true, slope: 1, intercept: 0 };
  if (preferred && Number.isFinite(preferred.slope) && preferred.slope !== 0 && (preferred.slope !== 1 || preferred.intercept !== 0)) {
    const slope = Number(formatDS(preferred.slope));
    const intercept = Number(formatDS(preferred.intercept));
    const lo = (min - intercept) / slope;
    const hi = (max - intercept) / slope;
    const [qmin, qmax] = lo < hi ? [lo, hi] : [hi, lo];
    const signed = qmin < -0.5;
    const fits = signed ? qmin >= -32768.5 && qmax <= 32767.5 : qmax <= 65535.5;
    let onGrid = fits && slope > 0;
    for (let i = 0; onGrid && i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      const q = Math.round((v - intercept) / slope);
      if (Math.fround(q * slope + intercept) !== v) onGrid = false;
    }
    if (onGrid) return { signed, slope, intercept };
  }
  if (integral && max - min <= 65535) return { signed: false, slope: 1, intercept: Number(formatDS(min)) };
  const slope = max > min ? Number(formatDS((max - min) / 65535)) : 1;
  // The stored maximum must fit after the slope was rounded to 16 characters.
  const intercept = Number(formatDS(min));
  const adjusted = (max - intercept) / slope > 65535 ? Number(formatDS(((max - intercept) / 65535) * (1 + 1e-12))) : slope;
  return { signed: false, slope: adjusted, intercept };
}

/** Encode a derived DICOM object. VALUES are the image's samples in source units (window already undone). */
export function encodeDicom(image: RawImage, values: Float32Array, options: DicomWriteOptions = {}): Uint8Array {
  const { width, height } = image;
  const colour = image.channels >= 3;
  const source = image.meta.dicom?.dataset;
  const now = dicomDate(new Date());
  const ds: Dataset = {};
  if (source) {
    for (const [key, value] of Object.entries(source)) {
      if (DROPPED.has(key) || key === '_meta') continue;
      if (/^[0-9A-Fa-f]{8}$/.test(key) && parseInt(key.slice(0, 4), 16) % 2 === 1) continue; // private tags
      ds[key] = deepCopy(value);
    }
  }
  const vrMap = { ...((ds['_vrMap'] as Record<string, string> | undefined) ?? {}), PixelData: colour ? 'OB' : 'OW' };
  ds['_vrMap'] = vrMap;

  const sourceClass = image.meta.dicom?.sopClassUID;
  let sopClassUID = SECONDARY_CAPTURE;
  if (sourceClass && SINGLE_FRAME_CLASSES.has(sourceClass)) sopClassUID = sourceClass;
  else if (sourceClass && CLASSIC_OF[sourceClass]) sopClassUID = CLASSIC_OF[sourceClass]!;
  if (colour && sopClassUID !== SECONDARY_CAPTURE) sopClassUID = SECONDARY_CAPTURE;
  const sopInstanceUID = newUid();
  const sourceSeries = str(source?.['SeriesInstanceUID']) ?? image.meta.source;
  let seriesInstanceUID = options.seriesInstanceUID;
  if (!seriesInstanceUID) {
    const key = `${sourceSeries}\u0000${options.description ?? ''}`;
    seriesInstanceUID = derivedSeries.get(key) ?? newUid();
    derivedSeries.set(key, seriesInstanceUID);
  }
  const description = (options.description ?? 'unet-dream derived image').slice(0, 64);

  if (!source) {
    Object.assign(ds, {
      PatientName: '',
      PatientID: '',
      PatientBirthDate: '',
      PatientSex: '',
      StudyInstanceUID: newUid(),
      StudyDate: now.date,
      StudyTime: now.time,
      StudyID: '',
      AccessionNumber: '',
      ReferringPhysicianName: '',
      Modality: image.meta.format === 'nifti' ? 'MR' : 'OT',
      ConversionType: 'WSD',
      InstanceNumber: image.meta.sliceIndex + 1,
    });
  }
  const sourceType = Array.isArray(source?.['ImageType']) ? (source['ImageType'] as string[]) : [];
  const multiFrame = (image.meta.dicom?.dataset['NumberOfFrames'] ?? undefined) !== undefined && image.meta.sliceCount > 1;
  Object.assign(ds, {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: sopClassUID,
    SOPInstanceUID: sopInstanceUID,
    SeriesInstanceUID: seriesInstanceUID,
    SeriesNumber: options.seriesNumber ?? (num(source?.['SeriesNumber']) ?? 0) + 1000,
    SeriesDescription: description,
    DerivationDescription: description,
    ImageType: ['DERIVED', 'SECONDARY', ...(multiFrame ? [] : sourceType.slice(2))],
    InstanceCreationDate: now.date,
    InstanceCreationTime: now.time,
    ContentDate: now.date,
    ContentTime: now.time,
    Rows: height,
    Columns: width,
  });
  if (multiFrame) ds['InstanceNumber'] = image.meta.sliceIndex + 1;
  if (sopClassUID === SECONDARY_CAPTURE && ds['ConversionType'] === undefined) ds['ConversionType'] = 'WSD';
  if (image.meta.dicom?.sopInstanceUID && sourceClass) {
    const ref: Dataset = { ReferencedSOPClassUID: sourceClass, ReferencedSOPInstanceUID: image.meta.dicom.sopInstanceUID };
    if (image.meta.sliceCount > 1) ref['ReferencedFrameNumber'] = image.meta.sliceIndex + 1;
    ds['SourceImageSequence'] = [ref];
  }

  const frameAttributes = image.meta.dicom?.frameAttributes ?? {};
  writeGeometry(ds, image, source, frameAttributes);

  let pixelBytes: Uint8Array;
  if (colour) {
    const n = width * height;
    pixelBytes = new Uint8Array(n * 3 + ((n * 3) % 2));
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) pixelBytes[p * 3 + c] = clamp255(values[p * image.channels + c]!);
    Object.assign(ds, { SamplesPerPixel: 3, PhotometricInterpretation: 'RGB', PlanarConfiguration: 0, BitsAllocated: 8, BitsStored: 8, HighBit: 7, PixelRepresentation: 0 });
  } else {
    const grey = image.channels === 1 ? values : Float32Array.from({ length: width * height }, (_, p) => values[p * image.channels]!);
    const encoded = storedAsSource(image, grey, frameAttributes) ?? storedWithNewRescale(image, grey);
    pixelBytes = encoded.bytes;
    Object.assign(ds, encoded.attributes);
    // The window: the source's (in modality units, so it still applies); none when a DICOM source had none (a viewer
    // then windows the derived image as it windowed the source); else, for an image from another format, one over
    // the image's own values.
    const sourceWindow = ['WindowCenter', 'WindowWidth', 'WindowCenterWidthExplanation', 'VOILUTFunction'].filter((k) => frameAttributes[k] !== undefined);
    if (frameAttributes['WindowCenter'] !== undefined && frameAttributes['WindowWidth'] !== undefined) {
      for (const k of sourceWindow) ds[k] = deepCopy(frameAttributes[k]);
    } else if (!image.meta.dicom) {
      const range = valueRange(grey);
      const window = image.meta.window;
      const center = window ? (window.low + window.high) / 2 : (range.min + range.max) / 2;
      const widthW = window ? window.high - window.low : range.max - range.min;
      ds['WindowCenter'] = formatDS(center);
      ds['WindowWidth'] = formatDS(Math.max(1, widthW));
    }
  }
  ds['PixelData'] = [pixelBytes.buffer.slice(pixelBytes.byteOffset, pixelBytes.byteOffset + pixelBytes.byteLength)];

  const fileMeta: Dataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUID,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  return quietly(() => {
    const { DicomDict, DicomMetaDictionary } = dcmjs().data;
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(fileMeta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    return new Uint8Array(dict.write());
  });
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

/**
 * ImagePositionPatient, ImageOrientationPatient, PixelSpacing and SliceThickness: the source frame's own strings
 * when the image still sits where that frame did, else computed from the image's geometry (scaled when the image
 * was resized since it was read).
 */
function writeGeometry(ds: Dataset, image: RawImage, source: Dataset | undefined, frameAttributes: Dataset): void {
  const { width, height } = image;
  const geometry = image.meta.geometry;
  const sourceRows = num(source?.['Rows']);
  const sourceColumns = num(source?.['Columns']);
  const resized = sourceRows !== undefined && sourceColumns !== undefined && (sourceRows !== height || sourceColumns !== width);
  for (const k of ['ImagePositionPatient', 'ImageOrientationPatient', 'PixelSpacing', 'SliceThickness', 'SpacingBetweenSlices']) {
    if (frameAttributes[k] !== undefined) ds[k] = deepCopy(frameAttributes[k]);
  }
  if (geometry) {
    const ipp = nums(frameAttributes['ImagePositionPatient'], 3);
    const iop = nums(frameAttributes['ImageOrientationPatient'], 6);
    const spacing = nums(frameAttributes['PixelSpacing'], 2) ?? [1, 1];
    const thickness = num(frameAttributes['SpacingBetweenSlices']) ?? num(frameAttributes['SliceThickness']) ?? 1;
    if (!resized && ipp && iop) {
      const original = dicomAffine(ipp, iop, spacing, thickness);
      if (original.every((row, i) => row.every((v, j) => close(geometry.affine[i]![j]!, v)))) return;
    }
    const affine = geometry.affine.map((row) => row.slice());
    if (resized) {
      for (let i = 0; i < 3; i++) {
        affine[i]![0]! *= sourceColumns / width;
        affine[i]![1]! *= sourceRows / height;
      }
    }
    const g = affineToDicom(affine);
    ds['ImagePositionPatient'] = g.ipp.map(formatDS);
    ds['ImageOrientationPatient'] = g.iop.map(formatDS);
    ds['PixelSpacing'] = g.pixelSpacing.map(formatDS);
    if (ds['SliceThickness'] === undefined) ds['SliceThickness'] = formatDS(g.sliceSpacing);
  } else {
    delete ds['ImagePositionPatient'];
    delete ds['ImageOrientationPatient'];
    const spacing = nums(ds['PixelSpacing'], 2);
    if (spacing && resized) ds['PixelSpacing'] = [formatDS((spacing[0]! * sourceRows!) / height), formatDS((spacing[1]! * sourceColumns!) / width)];
  }
}

interface StoredPixels {
  bytes: Uint8Array;
  attributes: Dataset;
}

function packStored(stored: Int32Array, bitsAllocated: number, signed: boolean): Uint8Array {
  if (bitsAllocated === 8) {
    const out = new Uint8Array(stored.length + (stored.length % 2));
    for (let i = 0; i < stored.length; i++) out[i] = stored[i]! & 0xff;
    return out;
  }
  const words = signed ? Int16Array.from(stored) : Uint16Array.from(stored);
  return new Uint8Array(words.buffer);
}

/**
 * The source's stored-value representation, when the values fit it: each value through the source's rescale,
 * rounded, inside BitsStored (and re-inverted for MONOCHROME1). Undefined when the image has no DICOM source, the
 * source had 32-bit samples, or a value falls outside.
 */
function storedAsSource(image: RawImage, grey: Float32Array, frameAttributes: Dataset): StoredPixels | undefined {
  const d = image.meta.dicom;
  if (!d || d.bitsAllocated === undefined || d.bitsStored === undefined || d.signed === undefined) return undefined;
  if (d.bitsAllocated !== 8 && d.bitsAllocated !== 16) return undefined;
  const { bitsAllocated, bitsStored, signed } = d;
  const slope = d.rescaleSlope || 1;
  const intercept = d.rescaleIntercept;
  const lo = signed ? -(2 ** (bitsStored - 1)) : 0;
  const hi = signed ? 2 ** (bitsStored - 1) - 1 : 2 ** bitsStored - 1;
  const stored = new Int32Array(grey.length);
  for (let i = 0; i < grey.length; i++) {
    const q = Math.round((grey[i]! - intercept) / slope);
    if (!(q >= lo && q <= hi)) return undefined; // out of range, or NaN
    stored[i] = d.inverted ? lo + hi - q : q;
  }
  const attributes: Dataset = {
    SamplesPerPixel: 1,
    PhotometricInterpretation: d.inverted ? 'MONOCHROME1' : 'MONOCHROME2',
    BitsAllocated: bitsAllocated,
    BitsStored: bitsStored,
    HighBit: bitsStored - 1,
    PixelRepresentation: signed ? 1 : 0,
  };
  // The rescale exactly as the source had it, or none when it had none.
  for (const k of ['RescaleSlope', 'RescaleIntercept', 'RescaleType']) if (frameAttributes[k] !== undefined) attributes[k] = deepCopy(frameAttributes[k]);
  if (attributes['RescaleSlope'] === undefined && (slope !== 1 || intercept !== 0)) {
    attributes['RescaleSlope'] = formatDS(slope);
    attributes['RescaleIntercept'] = formatDS(intercept);
  }
  return { bytes: packStored(stored, bitsAllocated, signed), attributes };
}

/** 16-bit samples with a rescale chosen for the values (written only when it is not the identity). */
function storedWithNewRescale(image: RawImage, grey: Float32Array): StoredPixels {
  const sourceRescale = image.meta.dicom ? { slope: image.meta.dicom.rescaleSlope, intercept: image.meta.dicom.rescaleIntercept } : undefined;
  const { signed, slope, intercept } = chooseRescale(grey, sourceRescale);
  const stored = new Int32Array(grey.length);
  const [lo, hi] = signed ? [-32768, 32767] : [0, 65535];
  for (let i = 0; i < grey.length; i++) {
    const v = Math.round((grey[i]! - intercept) / slope);
    stored[i] = Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0;
  }
  const attributes: Dataset = { SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: signed ? 1 : 0 };
  const sourceHadRescale = image.meta.dicom?.frameAttributes?.['RescaleSlope'] !== undefined;
  if (slope !== 1 || intercept !== 0 || sourceHadRescale) {
    attributes['RescaleSlope'] = formatDS(slope);
    attributes['RescaleIntercept'] = formatDS(intercept);
    const type = image.meta.dicom?.frameAttributes?.['RescaleType'];
    attributes['RescaleType'] = type !== undefined ? deepCopy(type) : 'US';
  }
  return { bytes: packStored(stored, 16, signed), attributes };
}
