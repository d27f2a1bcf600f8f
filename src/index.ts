/** unet-dream as a library: the same pieces the CLI uses. */
export { UsageError, InputError, OutputError, invalidParameterError } from './errors.js';
export { tf } from './engine/tf.js';
export { selectBackend, BACKEND_CHOICES, type BackendChoice } from './engine/backend.js';
export type { Engine, Batch, Objective, GradientNormalization, GradientResult } from './engine/engine.js';
export { createEngine } from './engine/select.js';
export { TfjsEngine } from './engine/tfjs-engine.js';
export { buildUNet, SEED_LAYERS } from './model/unet.js';
export { loadModel, type LoadedModel } from './model/load.js';
export { summarize, formatSummary } from './model/summary.js';
export { withInputSize } from './model/resize.js';
export { ascend } from './ascent/ascend.js';
export { visualizeFilters, planVisualization } from './ascent/visualize.js';
export { RECIPES, getRecipe } from './ascent/recipes.js';
export { renderSheet, sheetGeometry } from './render/sheet.js';
export { renderTile, minMaxWindow } from './render/tile.js';
export { validatePipeline } from './pipeline/validate.js';
export { runPipeline } from './pipeline/run.js';
export { readPipelineFile, applyOverrides } from './pipeline/file.js';
