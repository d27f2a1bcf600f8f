/** `unet-dream report DIR`: (re)builds DIR/index.html from DIR/manifest.json. */
import type { Argv, CommandModule } from 'yargs';
import { buildReport } from '../../report/build.js';

interface ReportArgs {
  dir: string;
  json: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dir>',
  describe: 'build the HTML report (index.html) of an output folder from its manifest.json (prune.json for prune)',
  builder: (yargs: Argv) =>
    yargs
      .positional('dir', { type: 'string', demandOption: true, describe: 'an output folder of filters, dream, batch, run, activations, attribute, examples, dissect, ablate or prune' })
      .option('json', { type: 'boolean', default: false, describe: 'print {file, bytes, ms, cpuMs} as JSON' }) as unknown as Argv<ReportArgs>,
  handler: async (args) => {
    const result = await buildReport(args.dir);
    process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : `wrote ${result.file} (${(result.bytes / 1e6).toFixed(2)} MB with report/) in ${result.ms} ms (${result.cpuMs} ms of CPU)\n`);
  },
};
