/** `unet-dream run FILE`: a pipeline from a YAML/JSON file, with `--set stage.key=value` overrides. */
import type { Argv, CommandModule } from 'yargs';
import { applyOverrides, readPipelineFile } from '../../pipeline/file.js';
import { commonOverrides, locateUnlessOverridden, withCommonOptions, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';

interface RunArgs extends CommonArgs {
  file: string;
  set?: string[];
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <file>',
  describe: 'run a pipeline file (see pipelines/)',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .positional('file', { type: 'string', demandOption: true, describe: 'pipeline YAML or JSON' })
      .option('set', { type: 'string', array: true, describe: "override a value: --set ascend.steps=5 (paths relative to the working directory; the file's own paths are relative to its folder)" })
      .example('$0 run pipelines/contact-sheets.yaml', "the seed's contact sheets, from any folder")
      .example("$0 run pipelines/dream-photo.yaml --set 'seed.inputs=[my.jpg]' --out dreams", 'the photo pipeline on your own photo') as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const { raw, locate } = await readPipelineFile(args.file);
    const sets = [...(args.set ?? []), ...commonOverrides(args)];
    await validateAndRun(applyOverrides(raw, sets), args, `run ${args.file}`, { locate: locateUnlessOverridden(locate, sets) });
  },
};
