/** Layers that merge several inputs: concatenation and element-wise sums, averages and products. */
import { define, internalAxis, type LayerInput } from './common.js';

export const concatenate = define<{ axis: number; rank: number; sizes: (number | null)[] }>(
  (input, fail) => {
    const axisCfg = input.cfg.axis ?? -1;
    if (typeof axisCfg !== 'number') return fail(`axis ${JSON.stringify(axisCfg)}`);
    const rank = input.outShape.length;
    if (input.inShapes.some((s) => s.length !== rank)) fail('inputs of different ranks');
    const a = axisCfg < 0 ? axisCfg + rank : axisCfg;
    if (a <= 0 || a >= rank) fail(`axis ${axisCfg}`);
    return { axis: internalAxis(a, rank), rank, sizes: input.inShapes.map((s) => s[a] ?? null) };
  },
  ({ g, inputs, layer }, { axis, rank, sizes }) => {
    const y = g.op('Concat', inputs.map((v) => v.name), { axis }, layer.name);
    return {
      output: { name: y, rank },
      backward: (gy) => {
        const split = sizes.every((s) => s !== null)
          ? g.ints(sizes as number[])
          : g.op('Concat', inputs.map((v) => g.shape(v.name, axis, axis + 1)), { axis: 0 });
        return g.node('Split', [gy, split], { axis }, inputs.length, `${layer.name}_grad`);
      },
    };
  },
);

function sameShapes(input: LayerInput, fail: (d: string) => never): number {
  const first = JSON.stringify(input.inShapes[0]);
  if (input.inShapes.some((s) => JSON.stringify(s) !== first)) fail('inputs of different shapes (broadcasting merge)');
  return input.outShape.length;
}

export const add = define(sameShapes, ({ g, inputs, layer }, rank) => ({
  output: { name: g.op(inputs.length === 2 ? 'Add' : 'Sum', inputs.map((v) => v.name), {}, layer.name), rank },
  backward: (gy) => inputs.map(() => gy),
}));

export const average = define(sameShapes, ({ g, inputs, layer }, rank) => {
  const n = inputs.length;
  const y = g.mulScalar(g.sum(inputs.map((v) => v.name)), 1 / n);
  return { output: { name: y, rank }, backward: (gy) => inputs.map(() => g.mulScalar(gy, 1 / n)) };
});

export const multiply = define(sameShapes, ({ g, inputs, layer }, rank) => {
  const names = inputs.map((v) => v.name);
  let y = names[0]!;
  for (const v of names.slice(1)) y = g.op('Mul', [y, v], {}, layer.name);
  return {
    output: { name: y, rank },
    backward: (gy) =>
      names.map((_, i) => {
        let r = gy;
        names.forEach((v, j) => {
          if (j !== i) r = g.op('Mul', [r, v]);
        });
        return r;
      }),
  };
});
