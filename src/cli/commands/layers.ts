/** `unet-dream layers`: the model's layers, shapes and parameter counts, like Keras' summary. */
import type { Argv, CommandModule } from 'yargs';
import { selectBackend } from '../../engine/backend.js';
import { loadModel } from '../../model/load.js';
import { formatSummary, summarize } from '../../model/summary.js';
import { withBackendOption, withModelSourceOptions, withOutputOptions, type CommonArgs } from '../options.js';

export const layersCommand: CommandModule<object, CommonArgs> = {
  command: 'layers',
  describe: "print the model's layers, output shapes and parameter counts",
  builder: (yargs: Argv) =>
    withOutputOptions(withBackendOption(withModelSourceOptions(yargs)))
      .example('$0 layers', "the builtin U-Net's layers, shapes and parameter counts")
      .example('$0 layers --model my-model.h5 --json', 'a Keras model, as JSON') as unknown as Argv<CommonArgs>,
  handler: async (args) => {
    await selectBackend(args.backend);
    const loaded = await loadModel(args.model, { architecture: args.architecture });
    const summary = summarize(loaded.model);
    if (args.json) {
      const layers = summary.layers.map(({ name, type, outputShape, params, inputs }) => ({ name, type, outputShape, params, inputs }));
      const model = { id: loaded.id, sha256: loaded.sha256, trained: loaded.trained, note: loaded.note };
      process.stdout.write(`${JSON.stringify({ layers, totalParams: summary.totalParams, trainableParams: summary.trainableParams, model }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`Model: ${loaded.id}\n${loaded.note}\n\n${formatSummary(summary)}\n`);
  },
};
