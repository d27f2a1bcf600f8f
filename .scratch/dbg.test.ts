import { it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { OnnxEngine } from '../src/engine/onnx/onnx-engine.js';
import { runFilterJob, type JobOptions } from '../src/ascent/visualize.js';
import { LUCID_DEFAULTS } from '../src/ascent/recipes.js';
import { parseInit, prepareInit } from '../src/ascent/init.js';
import { tinyConvNet } from '../test/helpers.js';
it('dbg', async () => {
  await selectBackend('cpu');
  const engine = new OnnxEngine(tinyConvNet(9, 'relu'), { threads: 1 });
  for (const weight of [0, 1, 10, 100, -10]) for (const layer of ['c1', 'c2']) {
    const options: JobOptions = { init: await prepareInit(parseInit('uniform:0:2'), { acceleration: 4, center: 0.08 }), size: 16, steps: 24, step: 0.05, normalize: 'none', seed: 5, spectral: { ...LUCID_DEFAULTS, pad: 2, jitter: 1, rescueSteps: 0 }, divisor: 2, diversity: { copies: 3, weight } };
    const rs = await runFilterJob(engine, 1, options, { layer, filters: [0, 2] });
    console.log(weight, layer, rs.map((r) => [r.diversity!.meanDistance.toFixed(5), r.diversity!.ends.map((e) => e.toFixed(3)).join(',')].join(' ')).join(' | '));
  }
});
