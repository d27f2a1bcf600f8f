/** `unet-dream inspect FILES...`: format, size, slices, type and range of each input; header fields for MR. */
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { InputError, UsageError } from '../../errors.js';
import { discoveredInput, parseInputSpec } from '../../io/input-spec.js';
import { readImages } from '../../io/read.js';
import type { RawImage } from '../../io/image.js';
import { withOutputOptions, type CommonArgs } from '../options.js';
import { outcome } from '../outcome.js';

interface InspectArgs extends CommonArgs {
  files: string[];
}

function headerFields(image: RawImage): Record<string, unknown> | undefined {
  if (image.meta.dicom) {
    const ds = image.meta.dicom.dataset as Record<string, unknown>;
    const pick = ['Modality', 'Manufacturer', 'SOPClassUID', 'SeriesDescription', 'Rows', 'Columns', 'NumberOfFrames', 'BitsAllocated', 'BitsStored', 'PixelRepresentation', 'PixelSpacing', 'SliceThickness', 'RescaleSlope', 'RescaleIntercept', 'WindowCenter', 'WindowWidth'];
    return { TransferSyntaxUID: image.meta.dicom.transferSyntaxUID, PhotometricInterpretation: image.meta.dicom.photometricInterpretation, ...Object.fromEntries(pick.filter((k) => ds[k] !== undefined).map((k) => [k, ds[k]])) };
  }
  if (image.meta.nifti) {
    const n = image.meta.nifti;
    return { version: n.version, dims: n.dims, pixdim: n.pixdim, datatypeCode: n.datatypeCode, littleEndian: n.littleEndian, qformCode: n.qformCode, sformCode: n.sformCode, sclSlope: n.sclSlope, sclInter: n.sclInter, axis: n.axis, description: n.description };
  }
  return undefined;
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <files..>',
  describe: 'describe input files: format, size, slices, data type, value range, key header fields',
  builder: (yargs: Argv) =>
    withOutputOptions(yargs)
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'image files; file.nii.gz#z=40 or file.dcm#frame=3 picks a slice' })
      .example('$0 inspect scan.dcm brain.nii.gz', 'format, size, slices, type, range and header of each file')
      .example('$0 inspect inputs/mri/*.nii.gz --json', 'the same as one JSON document') as unknown as Argv<InspectArgs>,
  handler: async (args) => {
    const results: Record<string, unknown>[] = [];
    for (const text of args.files) {
      try {
        // A file with this whole name (a '#' included) is that file; otherwise '#' selects a slice.
        const spec = existsSync(text) ? discoveredInput(text) : parseInputSpec(text);
        const images = await readImages(spec.path, spec.read);
        const first = images[0]!;
        let min = Infinity;
        let max = -Infinity;
        for (const im of images) {
          min = Math.min(min, im.meta.range.min);
          max = Math.max(max, im.meta.range.max);
        }
        results.push({ input: text, format: first.meta.format, width: first.width, height: first.height, channels: first.channels, slices: images.length, dtype: first.meta.dtype, bitDepth: first.meta.bitDepth, min, max, header: headerFields(first) });
      } catch (err) {
        if (!(err instanceof InputError) && !(err instanceof UsageError)) throw err;
        results.push({ input: text, error: err.message });
      }
    }
    // Failures go to stderr, one line each, in either output form; the --json document keeps its {input, error} too.
    for (const r of results) if (r.error) process.stderr.write(`unet-dream: ${String(r.error)}\n`);
    if (args.json) process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
    else {
      for (const r of results) {
        if (!r.error) process.stdout.write(`${r.input}: ${r.format} ${r.width}x${r.height}x${r.channels}, ${r.slices} slice${r.slices === 1 ? '' : 's'}, ${r.dtype} (${r.bitDepth} bits), range ${r.min}..${r.max}\n${r.header ? `  ${JSON.stringify(r.header)}\n` : ''}`);
      }
    }
    if (results.some((r) => r.error)) outcome.exitCode = 1;
  },
};
