/**
 * The activations mode: the feature maps of chosen layers on real slices, as contact sheets and raw
 * float32 maps (src/activations/). Runs in this thread: one forward pass per slice gives every layer.
 */
import { activationsOnModel, checkActivationsChannels, checkActivationsLayers, type ActivationsRecord } from '../../activations/activations.js';
import { layersFromModel } from '../../activations/model-layers.js';
import { parseChannelSelection } from '../../activations/selection.js';
import { checkPhantomInput, isPhantomInput } from '../../activations/slices.js';
import { defineMode } from '../../run/mode.js';
import { checkAgainstPeekedModel, seconds } from '../real-slices.js';
import { activationsStages, libraryConfig, type ActivationsModeConfig } from './schema.js';

export const activationsMode = defineMode<ActivationsModeConfig>({
  name: 'activations',
  description: 'feature maps of layers on real slices: contact sheets and raw .npy / NIfTI maps',
  stages: activationsStages,
  check(config, at) {
    let channelsParse = false;
    at(['ascend', 'channels'], () => (channelsParse = parseChannelSelection(config.ascend.channels, 'channels') !== undefined));
    config.seed.inputs.forEach((text, i) => {
      if (isPhantomInput(text)) at(['seed', 'inputs', i], () => checkPhantomInput(text));
    });
    // Layer names and listed channels against the model's topology, before its weights load.
    checkAgainstPeekedModel(config.model.source, at, (layers) => [
      [['ascend', 'layers'], () => checkActivationsLayers(config.ascend, layers)],
      // A selection that does not parse is reported once, above.
      ...(channelsParse ? [[['ascend', 'channels'], () => checkActivationsChannels(config.ascend, layers)] as [string[], () => void]] : []),
    ]);
  },
  checkModel(model, config) {
    const layers = layersFromModel(model);
    checkActivationsLayers(config.ascend, layers);
    checkActivationsChannels(config.ascend, layers);
  },
  async run(ctx, config) {
    const results = await activationsOnModel({ model: ctx.loaded.model, engine: ctx.engine }, libraryConfig(config), ctx.emit);
    for (const r of results) if (r.error) ctx.emit({ type: 'warn', message: r.error });
    return { results };
  },
  summarize(manifest, config) {
    const records = manifest.results as ActivationsRecord[];
    const failed = records.filter((r) => r.error).length;
    return `wrote the maps of ${config.ascend.layers.length} layer${config.ascend.layers.length === 1 ? '' : 's'} on ${records.length - failed} slice${records.length - failed === 1 ? '' : 's'} to ${config.write.out} in ${seconds(manifest.wallTimeMs)} on ${manifest.engine.engine}/${manifest.engine.backend}${failed ? `; ${failed} input${failed === 1 ? '' : 's'} failed (listed in manifest.json)` : ''}`;
  },
});
