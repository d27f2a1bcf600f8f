import { describe, expect, it } from 'vitest';
import { MODES, MODE_NAMES, getMode } from '../src/modes/index.js';
import { validatePipeline } from '../src/pipeline/validate.js';
import { refusalOf } from './helpers.js';

const problems = refusalOf;

describe('the table of modes', () => {
  it('is frozen, and an unknown mode lists the valid ones', () => {
    expect(Object.isFrozen(MODES)).toBe(true);
    expect(MODE_NAMES).toEqual(['filters', 'dream', 'activations', 'attribute', 'examples']);
    expect(() => getMode('dreem')).toThrow('unknown mode "dreem" (did you mean "dream"?); valid modes: filters, dream, activations, attribute, examples');
    expect(problems({ ascend: { mode: 'saliency' } })).toBe('ascend.mode: unknown mode "saliency"; valid modes: filters, dream, activations, attribute, examples');
  });

  it('fills every default from the mode schema, filters being the default mode', () => {
    const filters = validatePipeline({});
    expect(filters.mode.name).toBe('filters');
    expect(filters.config).toMatchObject({
      model: { source: 'builtin', backend: 'auto', device: 'cpu' },
      seed: { seed: 0, acceleration: 4, center: 0.08 },
      ascend: { mode: 'filters', recipe: 'seed', filters: 'random:16', batch: 1, octaves: 1, octaveScale: 1.4, negative: false },
      render: { colormap: 'viridis', normalize: 'tile', format: 'png' },
      tile: { columns: 8 },
      write: { out: 'outputs/filters', tiles: false, animate: false },
    });
    const dream = validatePipeline({ seed: { inputs: ['a.png'] }, ascend: { mode: 'dream' } });
    expect(dream.mode.name).toBe('dream');
    expect(dream.config).toEqual({
      model: { source: 'builtin', backend: 'auto', device: 'cpu' },
      seed: { inputs: ['a.png'], window: [0.5, 99.5], seed: 0 },
      ascend: { mode: 'dream', layers: ['uconv128'], objective: 'mean', octaves: 4, octaveScale: 1.4, steps: 10, step: 0.01, normalize: 'rms', jitter: 32, tile: 512, color: 'luminance' },
      write: { out: 'outputs/dream', animate: false, range: 'input' },
    });
  });

  it('refuses a key of the other mode, naming the mode it applies to', () => {
    expect(problems({ ascend: { jitter: 7 }, write: { format: 'dcm' } }).split('\n')).toEqual([
      'ascend.jitter: unknown key "jitter": `jitter` applies to mode dream (this pipeline\'s ascend.mode is filters); valid keys for mode filters: mode, recipe, layers, filters, steps, step, normalize, batch, workers, octaves, octaveScale, neuron, negative, diversity, diversityWeight, lucid',
      'write.format: unknown key "format": `format` applies to mode dream (this pipeline\'s ascend.mode is filters); valid keys for mode filters: out, tiles, animate',
    ]);
    const dream = problems({ seed: { inputs: ['a.png'], init: 'uniform:0:1' }, ascend: { mode: 'dream', workers: 3 }, write: { tiles: true }, tile: {} });
    expect(dream).toContain('seed.init: unknown key "init": `init` applies to mode filters');
    expect(dream).toContain('ascend.workers: unknown key "workers": `workers` applies to mode filters');
    expect(dream).toContain('write.tiles: unknown key "tiles": `tiles` applies to mode filters');
    expect(dream).toContain('unknown stage "tile": `tile` applies to mode filters');
  });

  it('checks names and specs inside strings at their paths, every problem at once', () => {
    const message = problems({ seed: { init: 'perlin:3' }, ascend: { recipe: 'sed', filters: 'banana' } });
    expect(message.split('\n')).toEqual([
      'ascend.recipe: unknown recipe "sed" (did you mean "seed"?); valid recipes: seed, lucid',
      'Expected one of uniform:LO:HI, gaussian:MEAN:STD, phantom:shepp-logan, phantom:random, image:PATH, aliased:phantom or aliased:PATH for seed.init but received "perlin:3"',
      'Expected a range (0-15), a list (3,5,9), random:N or all for ascend.filters but received "banana"',
    ]);
    expect(problems({ seed: { inputs: ['a.png'], window: [99, 1] }, ascend: { mode: 'dream', layers: ['a#1,b'] } }).split('\n')).toEqual([
      'ascend.layers: a single-filter objective (LAYER#FILTER) cannot be combined with other layers',
      'seed.window: expected LOW < HIGH percentiles, found [99, 1]',
    ]);
  });
});
