/** `unet-dream run FILE`: a pipeline from a YAML/JSON file, with `--set stage.key=value` overrides. */
import type { Argv, CommandModule } from 'yargs';
import { applyOverrides, readPipelineFile } from '../../pipeline/file.js';
import { withCommonOptions, type CommonArgs } from '../options.js';
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
      .option('set', { type: 'string', array: true, describe: 'override a value: --set ascend.steps=5' }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const { raw, locate } = await readPipelineFile(args.file);
    const sets = [...(args.set ?? [])];
    // Explicit common flags win over the file, as --set does.
    if (args.model !== 'builtin') sets.push(`model.source=${args.model}`);
    if (args.architecture !== undefined) sets.push(`model.architecture=${JSON.stringify(args.architecture)}`);
    if (args.backend !== 'auto') sets.push(`model.backend=${args.backend}`);
    if (args.device !== 'cpu') sets.push(`model.device=${args.device}`);
    if (args.threads !== undefined) sets.push(`model.threads=${args.threads}`);
    if (args.seed !== undefined) sets.push(`seed.seed=${args.seed}`);
    if (args.out !== undefined) sets.push(`write.out=${JSON.stringify(args.out)}`);
    const config = applyOverrides(raw, sets);
    // Locations only make sense for values that came from the file.
    await validateAndRun(config, args, `run ${args.file}`, sets.length === 0 ? locate : (p) => (p.length > 1 && sets.some((s) => s.startsWith(`${p.slice(0, 2).join('.')}=`)) ? '--set' : locate(p)));
  },
};
