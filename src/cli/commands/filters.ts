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
  octaves?: number;
  'octave-scale'?: number;
  neuron?: string;
  negative?: boolean;
  rotate?: number;
  tv?: number;
  l1?: number;
  blur?: number;
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
    .option('normalize', { type: 'string', describe: 'tile | sheet: min-max per tile (default) or one window per sheet' })
    .option('gradient-normalize', { type: 'string', describe: `${GRADIENT_NORMALIZATIONS.join(' | ')} (default: the recipe's, rms)` })
    .option('columns', { type: 'number', describe: 'tiles per row (default 8)' })
    .option('tiles', { type: 'boolean', describe: 'also write every tile as its own PNG' })
    .option('octaves', { type: 'number', describe: 'sizes ascended, smallest first, each upscaled into the next (default 1)' })
    .option('octave-scale', { type: 'number', describe: 'size ratio between octaves (default 1.4)' })
    .option('neuron', { type: 'string', describe: 'neuron objective: the unit at Y,X (fractions of the layer, 0.5,0.5 = centre) instead of the channel mean' })
    .option('negative', { type: 'boolean', describe: 'minimise each filter instead of maximising it' })
    .option('rotate', { type: 'number', describe: 'recipe lucid: random rotation up to this many degrees per step (default 0: off)' })
    .option('tv', { type: 'number', describe: 'recipe lucid: total-variation penalty weight (default 0)' })
    .option('l1', { type: 'number', describe: 'recipe lucid: L1 penalty weight towards grey (default 0)' })
    .option('blur', { type: 'number', describe: 'recipe lucid: blur penalty weight (default 0)' });
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
      octaves: args.octaves,
      octaveScale: args['octave-scale'],
      neuron: args.neuron === undefined ? undefined : parseNeuron(args.neuron),
      negative: args.negative,
      lucid: emptyToUndefined(defined({ rotate: args.rotate, tv: args.tv, l1: args.l1, blur: args.blur })),
    }),
    render: defined({ colormap: args.colormap, normalize: args.normalize }),
    tile: defined({ columns: args.columns }),
    write: defined({ out: args.out ?? defaultOut, tiles: args.tiles }),
  };
}

/** `Y,X` fractions; anything else goes through unchanged so the schema names the problem. */
function parseNeuron(text: string): unknown {
  const parts = text.split(',').map((p) => Number(p.trim()));
  return parts.length === 2 && parts.every(Number.isFinite) ? parts : text;
}

function emptyToUndefined<T extends object>(o: T): T | undefined {
  return Object.keys(o).length ? o : undefined;
}

export const filtersCommand: CommandModule<object, FiltersArgs> = {
  command: 'filters',
  describe: 'visualise filters by gradient ascent and tile them into per-layer contact sheets',
  builder: (yargs: Argv) => filtersBuilder(yargs) as unknown as Argv<FiltersArgs>,
  handler: async (args) => {
    await validateAndRun(filtersConfig(args, 'outputs/filters'), args, 'filters');
  },
};
