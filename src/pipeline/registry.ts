/**
 * The frozen table of pipeline stages, in execution order. A config names stages by these keys;
 * an unknown name is reported with the valid ones.
 */
import type { z } from 'zod';
import { ascendStage, modelStage, renderStage, seedStage, tileStage, writeStage } from './schema.js';

export interface StageDefinition {
  readonly name: string;
  readonly description: string;
  readonly schema: z.ZodType;
}

const define = (name: string, description: string, schema: z.ZodType): StageDefinition => Object.freeze({ name, description, schema });

export const STAGES: readonly StageDefinition[] = Object.freeze([
  define('model', 'load the network (builtin, a TensorFlow.js model.json) and pick the engine backend', modelStage),
  define('seed', 'starting images: noise kind, size, random seed', seedStage),
  define('ascend', 'gradient ascent on chosen layers and filters (recipe, steps, step, normalisation)', ascendStage),
  define('render', 'intensity window and colormap for each result', renderStage),
  define('tile', 'per-layer contact sheets', tileStage),
  define('write', 'PNG files and manifest.json in the output folder', writeStage),
]);

export const STAGE_NAMES: readonly string[] = Object.freeze(STAGES.map((s) => s.name));
