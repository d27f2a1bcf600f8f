/** DICOM: reading (read.ts, with dataset.ts, scan.ts, pixels.ts, codecs.ts) and writing derived images (write.ts). */
export { readDicom, type DicomReadOptions } from './read.js';
export { chooseRescale, encodeDicom, formatDS, newUid, type DicomWriteOptions } from './write.js';
export { affineToDicom, dicomAffine } from './dataset.js';
export { SUPPORTED_TRANSFER_SYNTAXES, transferSyntaxName } from './syntax.js';
