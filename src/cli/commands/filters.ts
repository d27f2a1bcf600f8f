/** `unet-dream filters`: per-layer contact sheets of filter visualizations (the seed's figures). */
import type { Argv, CommandModule } from 'yargs';
import { COLORMAPS } from '../../render/colormap.js';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { RECIPE_NAMES } from '../../ascent/recipes.js';
import { splitList, withCommonOptions, type CommonArgs } from '../options.js';
import { defined, validateAndRun } from './pipeline-runner.js';

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
  format?: string;
  animate?: boolean;
}

export function filtersBuilder(yargs: Argv) {
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
    .option('normalize', { type: 'string', describe: 'tile | sheet | p1-99: min-max per tile (default), one window per sheet, or 1st-99th percentiles per tile' })
    .option('gradient-normalize', { type: 'string', describe: `${GRADIENT_NORMALIZATIONS.join(' | ')} (default: the recipe's, rms)` })
    .option('columns', { type: 'number', describe: 'tiles per row (default 8)' })
    .option('tiles', { type: 'boolean', describe: 'also write every tile as its own PNG' })
    .option('format', { choices: ['png', 'svg'], describe: 'sheets as PNG (default), or also as vector SVG' })
    .option('animate', { type: 'boolean', describe: 'also write an animated WebP of each filter\'s ascent' });
}

export function filtersConfig(args: FiltersArgs, defaultOut: string) {
  return {
    model: defined({ source: args.model, architecture: args.architecture, backend: args.backend, device: args.device, threads: args.threads }),
    seed: defined({ init: args.init, size: args.size, seed: args.seed }),
    ascend: defined({
      recipe: args.recipe,
      layers: splitList(args.layers),
      filters: args.filters,
      steps: args.steps,
      step: args.step,
      normalize: args['gradient-normalize'],
      batch: args.batch,
      workers: args.workers,
    }),
    render: defined({ colormap: args.colormap, normalize: args.normalize, format: args.format }),
    tile: defined({ columns: args.columns }),
    write: defined({ out: args.out ?? defaultOut, tiles: args.tiles, animate: args.animate }),
  };
}

export const filtersCommand: CommandModule<object, FiltersArgs> = {
  command: 'filters',
  describe: 'visualise filters by gradient ascent and tile them into per-layer contact sheets',
  builder: (yargs: Argv) => filtersBuilder(yargs) as unknown as Argv<FiltersArgs>,
  handler: async (args) => {
    await validateAndRun(filtersConfig(args, 'outputs/filters'), args, 'filters');
  },
};
