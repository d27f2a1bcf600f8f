/** `unet-dream filters`: per-layer contact sheets of filter visualizations (the seed's figures). */
import type { Argv, CommandModule } from 'yargs';
import { COLORMAPS } from '../../render/colormap.js';
import { GRADIENT_NORMALIZATIONS } from '../../engine/engine.js';
import { RECIPE_NAMES, getRecipe } from '../../ascent/recipes.js';
import { SEED_LAYERS } from '../../model/unet.js';
import { filtersStages } from '../../modes/filters/schema.js';
import { COMMON_FLAGS, defined, modelConfig, splitList, withCommonOptions, withDefault, type CommonArgs } from '../options.js';
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
  format?: string;
  animate?: boolean;
  octaves?: number;
  'octave-scale'?: number;
  neuron?: string;
  negative?: boolean;
  diversity?: number;
  'diversity-weight'?: number;
  rotate?: number;
  tv?: number;
  l1?: number;
  blur?: number;
}

const { seed, ascend, render, tile } = filtersStages;
const recipe = getRecipe(ascend.shape.recipe.parse(undefined));

function filtersBuilder(yargs: Argv) {
  return withCommonOptions(yargs)
    .option('layers', { type: 'string', describe: `comma-separated layer names (default: the seed's seven, ${SEED_LAYERS.join(',')})` })
    .option('filters', { type: 'string', describe: withDefault('0-15 | 3,5,9 | random:16 | all', ascend, 'filters') })
    .option('steps', { type: 'number', describe: `ascent steps (default: the recipe's, ${recipe.steps})` })
    .option('step', { type: 'number', describe: `step size (default: the recipe's, ${recipe.step})` })
    .option('size', { type: 'number', describe: "image size in pixels (default: the model's own input size, or 128 for a model that takes any size)" })
    .option('init', { type: 'string', describe: `starting image: uniform:LO:HI | gaussian:MEAN:STD | phantom:shepp-logan | image:PATH | aliased:phantom ... (default: the recipe's, ${recipe.init})` })
    .option('recipe', { type: 'string', describe: withDefault(`ascent recipe: ${RECIPE_NAMES.join(', ')}`, ascend, 'recipe') })
    .option('batch', { type: 'number', describe: withDefault('filters optimised together, one per batch image (1 is as fast per image as larger batches here, and leanest)', ascend, 'batch') })
    .option('workers', { type: 'number', describe: 'worker threads, one engine each (default: 1 on ONNX Runtime, which threads inside, else the number of cores)' })
    .option('colormap', { type: 'string', describe: withDefault(COLORMAPS.join(' | '), render, 'colormap') })
    .option('normalize', { type: 'string', describe: withDefault('tile | sheet | p1-99: min-max per tile, one window per sheet, or 1st-99th percentiles per tile', render, 'normalize') })
    .option('gradient-normalize', { type: 'string', describe: `${GRADIENT_NORMALIZATIONS.join(' | ')} (default: the recipe's, ${recipe.normalize})` })
    .option('columns', { type: 'number', describe: withDefault('tiles per row', tile, 'columns') })
    .option('tiles', { type: 'boolean', describe: 'also write every tile as its own PNG' })
    .option('format', { choices: ['png', 'svg'], describe: withDefault('sheets as PNG, or PNG plus a vector SVG', render, 'format') })
    .option('animate', { type: 'boolean', describe: "also write an animated WebP of each filter's ascent" })
    .option('octaves', { type: 'number', describe: withDefault('sizes ascended, smallest first, each upscaled into the next', ascend, 'octaves') })
    .option('octave-scale', { type: 'number', describe: withDefault('size ratio between octaves', ascend, 'octaveScale') })
    .option('neuron', { type: 'string', describe: 'neuron objective: the unit at Y,X (fractions of the layer, 0.5,0.5 = centre) instead of the channel mean' })
    .option('negative', { type: 'boolean', describe: 'minimise each filter instead of maximising it' })
    .option('diversity', { type: 'number', describe: withDefault('recipe lucid: N images per filter, optimised together and pushed apart by a Gram-matrix penalty (a row per filter in the sheet)', ascend, 'diversity') })
    .option('diversity-weight', { type: 'number', describe: withDefault("weight of the diversity penalty against the filter's mean activation", ascend, 'diversityWeight') })
    .option('rotate', { type: 'number', describe: 'recipe lucid: random rotation up to this many degrees per step (default 0: off)' })
    .option('tv', { type: 'number', describe: 'recipe lucid: total-variation penalty weight (default 0)' })
    .option('l1', { type: 'number', describe: 'recipe lucid: L1 penalty weight towards grey (default 0)' })
    .option('blur', { type: 'number', describe: 'recipe lucid: blur penalty weight (default 0)' });
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
  'render.format': '--format',
  'tile.columns': '--columns',
  'write.tiles': '--tiles',
  'write.animate': '--animate',
  'ascend.octaves': '--octaves',
  'ascend.octaveScale': '--octave-scale',
  'ascend.neuron': '--neuron',
  'ascend.neuron.0': '--neuron',
  'ascend.neuron.1': '--neuron',
  'ascend.negative': '--negative',
  'ascend.diversity': '--diversity',
  'ascend.diversityWeight': '--diversity-weight',
  'ascend.lucid.rotate': '--rotate',
  'ascend.lucid.tv': '--tv',
  'ascend.lucid.l1': '--l1',
  'ascend.lucid.blur': '--blur',
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
      octaves: args.octaves,
      octaveScale: args['octave-scale'],
      neuron: args.neuron === undefined ? undefined : parseNeuron(args.neuron),
      negative: args.negative,
      diversity: args.diversity,
      diversityWeight: args['diversity-weight'],
      lucid: emptyToUndefined(defined({ rotate: args.rotate, tv: args.tv, l1: args.l1, blur: args.blur })),
    }),
    render: defined({ colormap: args.colormap, normalize: args.normalize, format: args.format }),
    tile: defined({ columns: args.columns }),
    write: defined({ out: args.out, tiles: args.tiles, animate: args.animate }),
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
  builder: (yargs: Argv) =>
    filtersBuilder(yargs)
      .example('$0 filters --layers dconv128 --filters 0-15 --out sheets', 'one contact sheet of 16 filters')
      .example('$0 filters --model my-model.h5 --layers conv1,conv2 --filters random:8', '8 random filters of two layers of your own model') as unknown as Argv<FiltersArgs>,
  handler: async (args) => {
    await validateAndRun(filtersConfig(args), args, 'filters', { flags: FLAGS });
  },
};
