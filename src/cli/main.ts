/** The unet-dream command line: one file per command under commands/, one error handler. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from '../errors.js';
import { reportError } from './errors.js';
import { filtersCommand } from './commands/filters.js';
import { layersCommand } from './commands/layers.js';
import { runCommand } from './commands/run.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    await yargs(argv)
      .scriptName('unet-dream')
      .command(layersCommand)
      .command(filtersCommand)
      .command(runCommand)
      .command(trainCommand)
      .command(evalCommand)
      .demandCommand(1, 'name a command: layers, filters, run, train, eval')
      .strict()
      .help()
      .version()
      .wrap(Math.min(110, process.stdout.columns ?? 110))
      .fail((message, err) => {
        if (err) throw err;
        throw new UsageError(message);
      })
      .parseAsync();
    return 0;
  } catch (err) {
    return reportError(err, verbose);
  }
}

