/** Layers that only act while training (dropout, noise): identity at inference, so identity here. */
import { define } from './common.js';

export const identity = define(
  () => undefined,
  (ctx) => ({ output: ctx.inputs[0]!, backward: (gy) => [gy] }),
);
