/** `unet-dream filters`: per-layer contact sheets of filter visualizations (the seed's figures). */
import type { Argv, CommandModule } from 'yargs';
import { COLORMAPS } from '../../render/colormap.js';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { RECIPE_NAMES } from '../../ascent/recipes.js';
import { COMMON_FLAGS, defined, modelConfig, splitList, withCommonOptions, type CommonArgs } from '../options.js';
import { validateAndRun } from './pipeline-runner.js';

interface FiltersArgs extends CommonArgs {
  layers?: string;
  filters?: string;
  steps?: number;
  step?: number;
  size?: number;
  init?: string;
  recipe?: string;
  batch?: number;
  workers?: number;
  colormap?: string;
  normalize?: string;
  'gradient-normalize'?: string;
  columns?: number;
  tiles?: boolean;
}

function filtersBuilder(yargs: Argv) {
  return withCommonOptions(yargs)
    .option('layers', { type: 'string', describe: 'comma-separated layer names (default: the seed\'s seven)' })
    .option('filters', { type: 'string', describe: '0-15 | 3,5,9 | random:16 | all (default random:16)' })
    .option('steps', { type: 'number', describe: 'ascent steps (default: the recipe\'s, 20)' })
    .option('step', { type: 'number', describe: 'step size (default: the recipe\'s, 1)' })
    .option('size', { type: 'number', describe: 'image size in pixels (default 128)' })
    .option('init', { type: 'string', describe: 'starting image: uniform:LO:HI | gaussian:MEAN:STD (default uniform:0:2)' })
    .option('recipe', { type: 'string', describe: `ascent recipe: ${RECIPE_NAMES.join(', ')}` })
    .option('batch', { type: 'number', describe: 'filters optimised together, one per batch image (default 1: per image as fast as larger batches here, and leanest)' })
    .option('workers', { type: 'number', describe: 'worker threads, one engine each (default: number of cores)' })
    .option('colormap', { type: 'string', describe: `${COLORMAPS.join(' | ')} (default viridis)` })
    .option('normalize', { type: 'string', describe: 'tile | sheet: min-max per tile (default) or one window per sheet' })
    .option('gradient-normalize', { type: 'string', describe: `${GRADIENT_NORMALIZATIONS.join(' | ')} (default: the recipe's, rms)` })
    .option('columns', { type: 'number', describe: 'tiles per row (default 8)' })
    .option('tiles', { type: 'boolean', describe: 'also write every tile as its own PNG' });
}

/** Config paths the filters flags set: messages about them name the flag. */
const FLAGS: Readonly<Record<string, string>> = Object.freeze({
  ...COMMON_FLAGS,
  'seed.init': '--init',
  'seed.size': '--size',
  'ascend.recipe': '--recipe',
  'ascend.layers': '--layers',
  'ascend.filters': '--filters',
  'ascend.steps': '--steps',
  'ascend.step': '--step',
  'ascend.normalize': '--gradient-normalize',
  'ascend.batch': '--batch',
  'ascend.workers': '--workers',
  'render.colormap': '--colormap',
  'render.normalize': '--normalize',
  'tile.columns': '--columns',
  'write.tiles': '--tiles',
});

/** The pipeline the flags describe: only what the user set; the schema fills in the rest. */
function filtersConfig(args: FiltersArgs) {
  return {
    model: modelConfig(args),
    seed: defined({ init: args.init, size: args.size, seed: args.seed }),
    ascend: defined({
      mode: 'filters',
      recipe: args.recipe,
      layers: splitList(args.layers),
      filters: args.filters,
      steps: args.steps,
      step: args.step,
      normalize: args['gradient-normalize'],
      batch: args.batch,
      workers: args.workers,
    }),
    render: defined({ colormap: args.colormap, normalize: args.normalize }),
    tile: defined({ columns: args.columns }),
    write: defined({ out: args.out, tiles: args.tiles }),
  };
}

export const filtersCommand: CommandModule<object, FiltersArgs> = {
  command: 'filters',
  describe: 'visualise filters by gradient ascent and tile them into per-layer contact sheets',
  builder: (yargs: Argv) => filtersBuilder(yargs) as unknown as Argv<FiltersArgs>,
  handler: async (args) => {
    await validateAndRun(filtersConfig(args), args, 'filters', { flags: FLAGS });
  },
};
