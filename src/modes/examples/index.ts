/**
 * The examples mode: for chosen filters, the real patches that excite them most, cropped to the
 * unit's receptive field, one sheet per layer (src/examples/). Runs in this thread.
 */
import { checkExamplesFilters, checkExamplesLayers, examplesOnModel, type ExamplesLayerRecord } from '../../examples/examples.js';
import { layersFromModel } from '../../activations/model-layers.js';
import { parseFilterSelection } from '../../ascent/filters.js';
import { UsageError } from '../../errors.js';
import { defineMode } from '../../run/mode.js';
import { checkAgainstPeekedModel, seconds } from '../real-slices.js';
import { examplesStages, libraryConfig, type ExamplesModeConfig } from './schema.js';

export const examplesMode = defineMode<ExamplesModeConfig>({
  name: 'examples',
  description: 'the real patches that excite chosen filters most, cropped to their receptive field, one sheet per layer',
  stages: examplesStages,
  check(config, at) {
    at(['seed', 'inputs'], () => {
      if (config.seed.inputs.length === 0 && config.seed.phantoms === undefined) throw new UsageError('expected folders or files of slices, or a number of phantoms (--phantoms, seed.phantoms)');
    });
    let filtersParse = false;
    at(['ascend', 'filters'], () => (filtersParse = parseFilterSelection(config.ascend.filters) !== undefined));
    checkAgainstPeekedModel(config.model.source, at, (layers) => [
      [['ascend', 'layers'], () => checkExamplesLayers(config.ascend, layers)],
      // A selection that does not parse is reported once, above.
      ...(filtersParse ? [[['ascend', 'filters'], () => checkExamplesFilters(config.ascend, layers)] as [string[], () => void]] : []),
    ]);
  },
  checkModel(model, config) {
    const layers = layersFromModel(model);
    checkExamplesLayers(config.ascend, layers);
    checkExamplesFilters(config.ascend, layers);
  },
  async run(ctx, config) {
    const { slices, failures, layers } = await examplesOnModel({ model: ctx.loaded.model, engine: ctx.engine }, libraryConfig(config), ctx.emit);
    for (const f of failures) ctx.emit({ type: 'warn', message: f.error });
    // One result per layer (its sheet and patches); the slices that could not be read are listed apart.
    return { results: layers, extra: { slices, failures } };
  },
  summarize(manifest, config) {
    const layers = manifest.results as ExamplesLayerRecord[];
    const { slices, failures } = manifest as unknown as { slices: number; failures: unknown[] };
    return `wrote ${layers.length} example sheet${layers.length === 1 ? '' : 's'} (top ${config.ascend.top} of ${slices} slices per filter) to ${config.write.out} in ${seconds(manifest.wallTimeMs)} on ${manifest.engine.engine}/${manifest.engine.backend}${failures.length ? `; ${failures.length} input${failures.length === 1 ? '' : 's'} failed (listed in manifest.json)` : ''}`;
  },
});
