/**
 * The attribute mode: which input pixels drive the network's output, a region of it or a filter
 * (src/attribution/). Runs in this thread; SmoothGrad and IG samples go to the engine in batches.
 */
import { attributeSlices, checkAttributeModel, loadAttributeSlices, type AttributionRecord } from '../../attribution/attribute.js';
import { parseTarget } from '../../attribution/target.js';
import { checkPhantomInput, isPhantomInput } from '../../activations/slices.js';
import { UsageError } from '../../errors.js';
import { defineMode } from '../../run/mode.js';
import { progressTo, seconds } from '../real-slices.js';
import { attributeStages, libraryConfig, type AttributeModeConfig } from './schema.js';

export const attributeMode = defineMode<AttributeModeConfig>({
  name: 'attribute',
  description: 'attribution maps (gradient, SmoothGrad, integrated gradients, Grad-CAM) of an output, region or filter on real slices',
  stages: attributeStages,
  check(config, at) {
    at(['ascend', 'target'], () => parseTarget(config.ascend.target));
    at(['ascend', 'layer'], () => {
      const gradcam = config.ascend.method === 'gradcam';
      if (gradcam && config.ascend.layer === undefined) throw new UsageError("method gradcam needs a layer (it weighs that layer's channels by their mean gradient)");
      if (!gradcam && config.ascend.layer !== undefined) throw new UsageError(`only method gradcam takes a layer, not ${config.ascend.method}`);
    });
    config.seed.inputs.forEach((text, i) => {
      if (isPhantomInput(text)) at(['seed', 'inputs', i], () => checkPhantomInput(text));
    });
  },
  checkModel(model, config) {
    checkAttributeModel(model, libraryConfig(config));
  },
  async run(ctx, config) {
    const c = libraryConfig(config);
    const { slices, failures } = await loadAttributeSlices(c);
    for (const f of failures) ctx.emit({ type: 'warn', message: f.error! });
    const records = await attributeSlices({ model: ctx.loaded.model, engine: ctx.engine }, c, slices, progressTo(ctx.emit));
    return { results: [...failures, ...records] };
  },
  summarize(manifest, config) {
    const records = manifest.results as AttributionRecord[];
    const failed = records.filter((r) => r.error).length;
    return `attributed ${config.ascend.target} by ${config.ascend.method} on ${records.length - failed} slice${records.length - failed === 1 ? '' : 's'} into ${config.write.out} in ${seconds(manifest.wallTimeMs)} on ${manifest.engine.engine}/${manifest.engine.backend}${failed ? `; ${failed} input${failed === 1 ? '' : 's'} failed (listed in manifest.json)` : ''}`;
  },
});
