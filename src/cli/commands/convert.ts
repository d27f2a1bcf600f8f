/** `unet-dream convert IN OUT`: Keras .h5 <-> TensorFlow.js layers-model folder. */
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { loadModel } from '../../model/load.js';
import { saveLayersModel } from '../../model/tfjs-files.js';
import { saveKerasH5 } from '../../model/keras-h5.js';
import { withBackendOption, withOutputOptions, type CommonArgs } from '../options.js';

interface ConvertArgs extends CommonArgs {
  input: string;
  output: string;
  to: 'tfjs' | 'h5';
  float16: boolean;
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <input> <output>',
  describe: 'convert a model: Keras .h5 or TensorFlow.js model.json -> TensorFlow.js folder (default) or Keras .h5 (--to h5)',
  builder: (yargs: Argv) =>
    withOutputOptions(withBackendOption(yargs))
      .option('architecture', { type: 'string', describe: 'model JSON for a weights-only Keras .h5 input' })
      .positional('input', { type: 'string', demandOption: true, describe: 'Keras .h5, model.json or its folder, or builtin' })
      .positional('output', { type: 'string', demandOption: true, describe: 'output folder (tfjs) or .h5 file' })
      .option('to', { choices: ['tfjs', 'h5'] as const, default: 'tfjs' as const, describe: 'output kind: a TensorFlow.js layers-model folder or a Keras .h5 file' })
      .option('float16', { type: 'boolean', default: false, describe: 'tfjs output: store weights as float16' })
      .example('$0 convert my-model.h5 my-model-tfjs', 'a Keras .h5 to a TensorFlow.js folder')
      .example('$0 convert builtin unet.h5 --to h5', 'the builtin U-Net as a Keras .h5 file') as unknown as Argv<ConvertArgs>,
  handler: async (args) => {
    await selectBackend(args.backend === 'onnx' ? 'auto' : args.backend);
    const loaded = await loadModel(args.input, { architecture: args.architecture });
    if (args.to === 'h5') await saveKerasH5(loaded.model, args.output);
    else await saveLayersModel(loaded.model, args.output, { quantize: args.float16 ? 'float16' : undefined });
    const summary = { input: args.input, output: args.output, to: args.to, model: loaded.id, sha256: loaded.sha256, params: loaded.model.countParams() };
    process.stdout.write(args.json ? `${JSON.stringify(summary, null, 2)}\n` : `wrote ${args.output} (${args.to}, ${summary.params.toLocaleString('en-US')} parameters) from ${args.input}\n`);
  },
};
