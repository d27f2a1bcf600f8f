/** `unet-dream merge OUT1 OUT2 ... --out OUT`: the shards of `batch --shard k/N` into one run's folder and manifest. */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { mergeShards } from '../../queue/merge.js';
import { createReporter } from '../reporter.js';
import { outcome } from '../outcome.js';

interface MergeArgs {
  shards: string[];
  out?: string;
  json: boolean;
  verbose: boolean;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <shards..>',
  describe: 'merge the output folders of `batch --shard k/N` tasks into one folder with one manifest',
  builder: (yargs: Argv) =>
    yargs
      .positional('shards', { type: 'string', array: true, demandOption: true, describe: "the shards' output folders" })
      .option('out', { type: 'string', describe: 'merged output folder (outputs are copied there atomically)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the merged manifest on stdout' })
      .option('verbose', { type: 'boolean', default: false, describe: 'show stacks on errors' }) as unknown as Argv<MergeArgs>,
  handler: async (args) => {
    if (!args.out) throw new UsageError('merge needs --out OUT: the folder for the merged outputs and manifest');
    const reporter = createReporter(args);
    const manifest = await mergeShards(args.shards, args.out, { command: `merge ${args.shards.join(' ')} --out ${args.out}`, onEvent: (e) => reporter.onEvent(e) });
    reporter.stop();
    const failed = manifest.results.filter((r) => r.error).length;
    if (failed > 0) outcome.exitCode = 1;
    if (args.json) process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
    else process.stdout.write(`merged ${manifest.merged.shards} shards: ${manifest.results.length - failed} of ${manifest.results.length} inputs dreamed into ${args.out}${failed ? `; ${failed} failed (listed in manifest.json)` : ''}\n`);
  },
};
