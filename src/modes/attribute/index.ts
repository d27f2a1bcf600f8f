/**
 * The attribute mode: which input pixels drive the network's output, a region of it or a filter
 * (src/attribution/). Runs in this thread; SmoothGrad and IG samples go to the engine in chunks
 * sized by a memory budget, all through one compiled gradient graph.
 */
import { attributeSlices, checkAttributeChannels, checkAttributeLayers, checkGradcamLayer, loadAttributeSlices, type AttributionRecord } from '../../attribution/attribute.js';
import { checkTargetInside, parseTarget } from '../../attribution/target.js';
import { layersFromModel } from '../../activations/model-layers.js';
import { isPhantomInput, phantomSize } from '../../activations/slices.js';
import { defineMode } from '../../run/mode.js';
import { checkAgainstPeekedModel, seconds } from '../real-slices.js';
import { attributeStages, libraryConfig, type AttributeModeConfig } from './schema.js';

export const attributeMode = defineMode<AttributeModeConfig>({
  name: 'attribute',
  description: 'attribution maps (gradient, SmoothGrad, integrated gradients, Grad-CAM) of an output, region or filter on real slices',
  stages: attributeStages,
  check(config, at) {
    // A target that does not parse is reported once, here; the checks below that read it are skipped.
    let targetParses = false;
    at(['ascend', 'target'], () => (targetParses = parseTarget(config.ascend.target) !== undefined));
    at(['ascend', 'layer'], () => checkGradcamLayer(config.ascend));
    config.seed.inputs.forEach((text, i) => {
      if (!isPhantomInput(text)) return;
      // A phantom's size is in its name: a region outside it is found here (a file's, once it is read).
      let size: number | undefined;
      at(['seed', 'inputs', i], () => (size = phantomSize(text)));
      if (size !== undefined && targetParses) at(['ascend', 'target'], () => checkTargetInside(parseTarget(config.ascend.target), size!, size!, text));
    });
    checkAgainstPeekedModel(config.model.source, at, (layers) => [
      ...(targetParses ? [[['ascend', 'target'], () => checkAttributeLayers({ target: config.ascend.target, layer: undefined }, layers)] as [string[], () => void]] : []),
      [['ascend', 'layer'], () => checkAttributeLayers({ target: 'output', layer: config.ascend.layer }, layers)],
    ]);
  },
  checkModel(model, config) {
    checkAttributeLayers(config.ascend, layersFromModel(model));
    checkAttributeChannels(model);
  },
  async run(ctx, config) {
    const c = libraryConfig(config);
    const { slices, failures } = await loadAttributeSlices(c);
    for (const f of failures) ctx.emit({ type: 'warn', message: f.error! });
    const records = await attributeSlices({ model: ctx.loaded.model, engine: ctx.engine }, c, slices, ctx.emit);
    return { results: [...failures, ...records] };
  },
  summarize(manifest, config) {
    const records = manifest.results as AttributionRecord[];
    const failed = records.filter((r) => r.error).length;
    return `attributed ${config.ascend.target} by ${config.ascend.method} on ${records.length - failed} slice${records.length - failed === 1 ? '' : 's'} into ${config.write.out} in ${seconds(manifest.wallTimeMs)} on ${manifest.engine.engine}/${manifest.engine.backend}${failed ? `; ${failed} input${failed === 1 ? '' : 's'} failed (listed in manifest.json)` : ''}`;
  },
});
