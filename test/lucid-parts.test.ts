/**
 * The `lucid` recipe's parts, each checked against finite differences: the spectral parameterisation
 * (with its sigmoid), every transform and their composition, and the regularisers.
 */
import { describe, expect, it } from 'vitest';
import { SpectralParam } from '../src/ascent/param/spectral.js';
import { hartley2d } from '../src/ascent/param/hartley.js';
import { sigmoid, sigmoidBackward } from '../src/ascent/param/sigmoid.js';
import { compose, jitter, pad, randomRotate, randomScale, reflectIndex, type AppliedTransform, type ImageShape, type Transform } from '../src/ascent/transform/index.js';
import { transformsOf, paddingFor } from '../src/ascent/lucid.js';
import { LUCID_DEFAULTS } from '../src/ascent/recipes.js';
import { totalVariation } from '../src/ascent/regularizers/tv.js';
import { l1 } from '../src/ascent/regularizers/l1.js';
import { blur, boxBlur3 } from '../src/ascent/regularizers/blur.js';
import { createRng } from '../src/random.js';
import { Adam } from '../src/ascent/optim/adam.js';

function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** Central differences of f at `points` against `gradient`; f is evaluated in float64 where it can be. */
function expectGradient(f: (x: Float32Array) => number, x: Float32Array, gradient: Float32Array, points: number[], h = 1e-2, tol = 2e-3): void {
  const scale = Math.max(...Array.from(gradient, Math.abs));
  for (const i of points) {
    const plus = Float32Array.from(x);
    const minus = Float32Array.from(x);
    plus[i]! += h;
    minus[i]! -= h;
    const fd = (f(plus) - f(minus)) / (2 * h);
    expect(Math.abs(fd - gradient[i]!), `coordinate ${i}: finite difference ${fd}, gradient ${gradient[i]}`).toBeLessThan(tol * scale + 1e-6);
  }
}

/** Direct 2-D Hartley sums, the definition, for one plane. */
function directHartley(x: Float32Array, h: number, w: number): Float64Array {
  const out = new Float64Array(h * w);
  for (let ky = 0; ky < h; ky++)
    for (let kx = 0; kx < w; kx++) {
      let s = 0;
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const a = 2 * Math.PI * ((ky * y) / h + (kx * xx) / w);
          s += x[y * w + xx]! * (Math.cos(a) + Math.sin(a));
        }
      out[ky * w + kx] = s / Math.sqrt(h * w);
    }
  return out;
}

describe('Hartley transform', () => {
  for (const [h, w] of [
    [8, 8],
    [6, 10],
    [16, 8],
    [4, 4],
    [4, 32],
  ] as const) {
    it(`${h}x${w}: equals the definition, is orthonormal and its own inverse`, () => {
      const x = randomArray(h * w, h * 100 + w);
      const y = new Float32Array(h * w);
      hartley2d(x, y, h, w);
      const ref = directHartley(x, h, w);
      for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(ref[i]!, 4);
      expect(dot(y, y)).toBeCloseTo(dot(x, x), 3);
      const back = new Float32Array(h * w);
      hartley2d(y, back, h, w);
      for (let i = 0; i < x.length; i++) expect(back[i]).toBeCloseTo(x[i]!, 5);
    });
  }

  it('each coefficient is one plane wave: coefficient (1, 0) varies along y only', () => {
    const p = new Float32Array(64);
    p[1 * 8 + 0] = 1;
    const img = new Float32Array(64);
    hartley2d(p, img, 8, 8);
    for (let y = 0; y < 8; y++) for (let x = 1; x < 8; x++) expect(img[y * 8 + x]).toBeCloseTo(img[y * 8]!, 6);
    expect(img[4 * 8]).toBeCloseTo(-img[0]!, 6); // cas(pi) = -1 = -cas(0)
    expect(img[0]).toBeCloseTo(1 / 8, 6);
  });
});

describe('Adam ascent', () => {
  it('stepAlongNegated is step on the negated gradient, bit for bit', () => {
    const p1 = randomArray(50, 91);
    const p2 = Float32Array.from(p1);
    const a = new Adam([50], { lr: 0.05 });
    const b = new Adam([50], { lr: 0.05 });
    for (let k = 0; k < 5; k++) {
      const g = randomArray(50, 92 + k);
      a.step([p1], [Float32Array.from(g, (v) => -v)]);
      b.stepAlongNegated([p2], [g]);
    }
    expect(p2).toEqual(p1);
  });
});

describe('spectral parameterisation', () => {
  const shape: ImageShape = { n: 2, height: 8, width: 12, channels: 3 };
  const param = new SpectralParam(shape, 1);
  const p = randomArray(param.size, 5, -0.05, 0.05);
  const weights = randomArray(param.size, 6);

  it('scales each coefficient by 1/f, floored at 1/max(H, W) for the DC term', () => {
    expect(param.scale[0]).toBeCloseTo(12, 5); // DC: 1 / (1/12)
    expect(param.scale[1]).toBeCloseTo(12, 5); // kx = 1: f = 1/12
    expect(param.scale[6]).toBeCloseTo(2, 5); // kx = 6: f = 1/2, the Nyquist column
    expect(param.scale[4 * 12]).toBeCloseTo(2, 5); // ky = 4: f = 1/2
  });

  it('adjoint equals the transpose: <A p, g> = <p, A^T g>', () => {
    const g = randomArray(param.size, 7);
    expect(dot(param.toImage(p), g)).toBeCloseTo(dot(p, param.adjoint(g)), 3);
  });

  it('gradient through the parameterisation and sigmoid matches finite differences', () => {
    const f = (q: Float32Array) => {
      const img = sigmoid(param.toImage(q));
      let s = 0;
      for (let i = 0; i < img.length; i++) s += weights[i]! * img[i]! * img[i]!;
      return s;
    };
    const img = sigmoid(param.toImage(p));
    const dImg = Float32Array.from(img, (v, i) => 2 * weights[i]! * v);
    const grad = param.adjoint(sigmoidBackward(img, dImg));
    expectGradient(f, p, grad, [0, 1, 13, 40, 97, 150, 287, 500, 575], 1e-3);
  });

  it('fromImage inverts toImage (octaves re-parameterise an upscaled image)', () => {
    const back = param.fromImage(param.toImage(p));
    for (let i = 0; i < p.length; i += 7) expect(back[i]).toBeCloseTo(p[i]!, 4);
  });
});

describe('transforms', () => {
  const shape: ImageShape = { n: 2, height: 10, width: 10, channels: 2 };
  const x = randomArray(shape.n * 100 * 2, 11, 0, 1);

  /** f(T(x)) = sum w * T(x)^2, a nonlinear loss whose gradient must come back through T's adjoint. */
  function checkTransform(name: string, make: () => Transform, seed: number) {
    it(`${name}: adjoint is the transpose and the chained gradient matches finite differences`, () => {
      const rngs = () => [createRng(seed), createRng(seed + 1)];
      const t: AppliedTransform = make().sample(shape, rngs());
      const outSize = t.output.n * t.output.height * t.output.width * t.output.channels;
      const y = randomArray(outSize, seed + 2);
      expect(dot(t.forward(x), y)).toBeCloseTo(dot(x, t.adjoint(y)), 3);
      const w = randomArray(outSize, seed + 3);
      const f = (v: Float32Array) => {
        const o = t.forward(v);
        return o.reduce((s, u, i) => s + w[i]! * u * u, 0);
      };
      const fx = t.forward(x);
      const grad = t.adjoint(Float32Array.from(fx, (u, i) => 2 * w[i]! * u));
      expectGradient(f, x, grad, [0, 3, 22, 57, 101, 150, 199, 250, 333, 399], 1e-3);
      // The draw is deterministic per rng.
      expect(make().sample(shape, rngs()).forward(x)).toEqual(t.forward(x));
    });
  }
  checkTransform('jitter', () => jitter(3), 21);
  checkTransform('pad (reflect)', () => pad(4), 31);
  checkTransform('random scale', () => randomScale(0.8, 1.2), 41);
  checkTransform('random rotation', () => randomRotate(30), 51);
  checkTransform('the lucid chain (jitter, pad, scale, rotation)', () => {
    const stages = transformsOf({ ...LUCID_DEFAULTS, rotate: 10 }, 4);
    return { name: 'chain', sample: (s, r) => compose(stages, s, r) };
  }, 61);

  it('the fused chain (one tap map) equals applying its stages one after another, forward and adjoint', () => {
    const stages = transformsOf({ ...LUCID_DEFAULTS, rotate: 10 }, 4);
    const rngs = () => [createRng(81), createRng(82)];
    const fused = compose(stages, shape, rngs());
    expect(fused.taps, 'every lucid stage is a tap map, so the chain fuses').toBeDefined();
    // The same draws, stage by stage: each stage samples from the same streams in the same order.
    const r = rngs();
    let current = shape;
    const applied = stages.map((stage) => {
      const a = stage.sample(current, r);
      current = a.output;
      return a;
    });
    const sequential = applied.reduce((v, a) => a.forward(v), x);
    const out = fused.forward(x);
    expect(out.length).toBe(sequential.length);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(sequential[i]!, 5);
    const g = randomArray(out.length, 83);
    const back = applied.reduceRight((v, a) => a.adjoint(v), g);
    const fusedBack = fused.adjoint(g);
    for (let i = 0; i < back.length; i++) expect(fusedBack[i]).toBeCloseTo(back[i]!, 5);
  });

  it('jitter shifts by whole pixels, circularly', () => {
    const t = jitter(2).sample({ n: 1, height: 5, width: 5, channels: 1 }, [createRng(3)]);
    const img = Float32Array.from({ length: 25 }, (_, i) => i);
    const out = t.forward(img);
    expect([...out].sort((a, b) => a - b)).toEqual([...img]);
  });

  it('pad mirrors without repeating the edge, and rounds to the model\'s pooling', () => {
    expect([-2, -1, 0, 4, 5, 6].map((i) => reflectIndex(i, 5))).toEqual([2, 1, 0, 4, 3, 2]);
    const t = pad(2).sample({ n: 1, height: 3, width: 3, channels: 1 }, [createRng(0)]);
    const out = t.forward(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(t.output.width).toBe(7);
    expect(Array.from(out.slice(14, 21))).toEqual([3, 2, 1, 2, 3, 2, 1]); // padded row 2 is source row 0, mirrored at both ends
    expect(Array.from(out.slice(0, 7))).toEqual([9, 8, 7, 8, 9, 8, 7]); // padded row 0 mirrors source row 2
    expect(paddingFor(8, 8)).toBe(8);
    expect(paddingFor(5, 8)).toBe(8);
    expect(paddingFor(3, 1)).toBe(3);
  });

  it('the chain\'s output size is divisible by the pooling factor', () => {
    const stages = transformsOf({ ...LUCID_DEFAULTS, pad: 5 }, 8);
    const t = compose(stages, { n: 1, height: 24, width: 24, channels: 1 }, [createRng(1)]);
    expect(t.output.height % 8).toBe(0);
    expect(t.output.height).toBe(40);
  });
});

describe('regularisers', () => {
  const shape: ImageShape = { n: 2, height: 6, width: 7, channels: 1 };
  const x = randomArray(84, 71, 0, 1);

  it('total variation: gradient matches finite differences (away from ties)', () => {
    const { values, gradient } = totalVariation(x, shape);
    const f = (v: Float32Array) => {
      const p = totalVariation(v, shape).values;
      return p[0]! + p[1]!;
    };
    expect(values[0]).toBeGreaterThan(0);
    expectGradient(f, x, gradient, [0, 5, 20, 41, 50, 83], 1e-4);
  });

  it('L1 towards grey: gradient matches finite differences', () => {
    const reg = l1(0.5);
    const { gradient } = reg(x, shape);
    const f = (v: Float32Array) => {
      const p = reg(v, shape).values;
      return p[0]! + p[1]!;
    };
    expectGradient(f, x, gradient, [1, 9, 30, 60, 77], 1e-4);
  });

  it('blur: value 0.5 mean (x - blur x)^2, gradient (x - blur x)/size (blur held constant, as Lucid does)', () => {
    const { values, gradient } = blur(x, shape);
    const b = boxBlur3(x, shape);
    const d = Float32Array.from(x, (v, i) => v - b[i]!);
    expect(values[0]).toBeCloseTo(d.slice(0, 42).reduce((s, v) => s + 0.5 * v * v, 0) / 42, 6);
    for (let i = 0; i < 84; i += 5) expect(gradient[i]).toBeCloseTo(d[i]! / 42, 7);
    // A constant image is its own blur: no penalty.
    expect(blur(new Float32Array(84).fill(0.3), shape).values[0]).toBeCloseTo(0, 7);
  });
});
