/** The unet-dream command line: one file per command under commands/, one error handler. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from '../errors.js';
import { reportError } from './errors.js';
import { outcome } from './outcome.js';
import { filtersCommand } from './commands/filters.js';
import { layersCommand } from './commands/layers.js';
import { runCommand } from './commands/run.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';
import { dreamCommand } from './commands/dream.js';
import { inspectCommand } from './commands/inspect.js';
import { batchCommand } from './commands/batch.js';
import { convertCommand } from './commands/convert.js';
import { mergeCommand } from './commands/merge.js';
import { queueCommand } from './commands/queue.js';
import { workerCommand } from './commands/worker.js';
import { reportCommand } from './commands/report.js';
import { dissectCommand } from './commands/dissect.js';
import { ablateCommand } from './commands/ablate.js';
import { pruneCommand } from './commands/prune.js';
import { activationsCommand } from './commands/activations.js';
import { attributeCommand } from './commands/attribute.js';
import { examplesCommand } from './commands/examples.js';

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  outcome.exitCode = 0;
  try {
    await yargs(argv)
      .scriptName('unet-dream')
      .command(layersCommand)
      .command(filtersCommand)
      .command(runCommand)
      .command(trainCommand)
      .command(evalCommand)
      .command(dreamCommand)
      .command(inspectCommand)
      .command(batchCommand)
      .command(convertCommand)
      .command(mergeCommand)
      .command(queueCommand)
      .command(workerCommand)
      .command(reportCommand)
      .command(dissectCommand)
      .command(ablateCommand)
      .command(pruneCommand)
      .command(activationsCommand)
      .command(attributeCommand)
      .command(examplesCommand)
      .demandCommand(1, 'name a command: layers, filters, dream, batch, run, report, inspect, convert, train, eval, activations, attribute, examples, dissect, ablate, prune, merge, queue, worker')
      .strict()
      .help()
      .version()
      .wrap(Math.min(110, process.stdout.columns ?? 110))
      .fail((message, err) => {
        if (err) throw err;
        throw new UsageError(message);
      })
      .parseAsync();
    return outcome.exitCode;
  } catch (err) {
    return reportError(err, verbose);
  }
}

