/** src/io: one image type, its readers and writers, intensity windows and folder walking. */
export type { DicomMeta, ImageFormat, ImageMeta, IntensityWindow, NiftiMeta, RawImage, SampleType, SliceGeometry } from './image.js';
export { channel, cloneImage, createImage, dropAlpha, luminance, resolveSlice, toGray, valueRange, withData } from './image.js';
export { readImage, readImages, type ReadOptions } from './read.js';
export { encodeImages, formatForFile, writeImage, writeImages, type WriteFormat, type WriteOptions } from './write.js';
export { applyWindow, boundToRange, inputRange, percentileOfSorted, percentileWindow, percentiles, unwindow, RANGE_MODES, type PercentileOptions, type RangeMode } from './intensity.js';
export { compileInclude, naturalCompare, walkInputs, type WalkOptions } from './walk.js';
export { readDicomSeries, type SeriesOptions } from './series.js';
export { SUPPORTED_TRANSFER_SYNTAXES, affineToDicom, dicomAffine, newUid, transferSyntaxName } from './dicom/index.js';
export type { SliceAxis } from './nifti.js';
export { formatFromName, sniffBytes } from './sniff.js';
export { writeFileAtomic, ensureWritableDir } from './atomic.js';
export { discoveredInput, parseInputSpec, type InputSpec } from './input-spec.js';
export { DEFAULT_LIMITS, type InputLimits } from './limits.js';
export { splitExtension, uniqueOutputNames, volumeSuffix, type OutputPlan } from './output-names.js';
export { encodeNiftiLikeSource } from './nifti.js';
