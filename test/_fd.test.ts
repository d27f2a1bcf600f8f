import { it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { buildUNet } from '../src/model/unet.js';
import { compileTrainingGraph } from '../src/engine/onnx/training.js';
import ort from 'onnxruntime-node';
it('fd', async () => {
  await selectBackend('cpu');
  const model = buildUNet({ size: null, seed: 11 });
  const shape = [2, 16, 16, 1];
  const x = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 1.7) * 0.5 + 0.5);
  const y = Float32Array.from({ length: 512 }, (_, i) => Math.cos(i * 0.3) * 0.5 + 0.5);
  const graph = compileTrainingGraph(model, { loss: 'mse' });
  const session = await ort.InferenceSession.create(graph.modelProto, { logSeverityLevel: 3 });
  const params = graph.params.map((p) => Float64Array.from(model.getLayer(p.layer).getWeights()[p.index]!.dataSync() as Float32Array));
  const run = async () => {
    const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, shape), target: new ort.Tensor('float32', y, shape) };
    graph.params.forEach((p, i) => (feeds[p.name] = new ort.Tensor('float32', Float32Array.from(params[i]!), p.shape)));
    return session.run(feeds);
  };
  const base = await run();
  for (const name of ['dconv64/kernel', 'uconv128/kernel', 'uconv128/bias', 'conv128_2/gamma', 'dconv64/bias']) {
    const i = graph.params.findIndex((p) => p.name === name);
    const g = base[graph.params[i]!.gradient]!.data as Float32Array;
    let k = 0; for (let j = 0; j < g.length; j++) if (Math.abs(g[j]!) > Math.abs(g[k]!)) k = j;
    const h = Number(process.env.H ?? 1e-3); const orig = params[i]![k]!;
    params[i]![k] = orig + h; const lp = (await run()).loss!.data[0] as number;
    params[i]![k] = orig - h; const lm = (await run()).loss!.data[0] as number;
    params[i]![k] = orig;
    console.log('FD', name, k, 'analytic', g[k], 'numeric', (lp - lm) / (2 * h));
  }
}, 120000);
