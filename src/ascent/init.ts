/**
 * Starting images (`--init`). Each image is drawn from its own keyed stream so it does not depend
 * on batching. Image- and phantom-based seeds register here too.
 */
import { invalidParameterError } from '../errors.js';
import type { Rng } from './random.js';

export interface InitSpec {
  kind: string;
  params: number[];
  text: string;
}

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

type InitFactory = (params: number[], shape: ImageShape, rng: Rng) => Float32Array;

const NOISE_INITS: Readonly<Record<string, { params: string[]; make: InitFactory }>> = Object.freeze({
  uniform: {
    params: ['LO', 'HI'],
    make: ([lo, hi], shape, rng) => {
      const out = new Float32Array(shape.height * shape.width * shape.channels);
      for (let i = 0; i < out.length; i++) out[i] = lo! + (hi! - lo!) * rng.next();
      return out;
    },
  },
  gaussian: {
    params: ['MEAN', 'STD'],
    make: ([mean, std], shape, rng) => {
      const out = new Float32Array(shape.height * shape.width * shape.channels);
      for (let i = 0; i < out.length; i++) out[i] = mean! + std! * rng.normal();
      return out;
    },
  },
});

export const INIT_KINDS = Object.freeze(Object.keys(NOISE_INITS));

export function parseInit(text: string): InitSpec {
  const [kind, ...rest] = text.split(':');
  const entry = kind ? NOISE_INITS[kind] : undefined;
  const forms = Object.entries(NOISE_INITS).map(([k, v]) => [k, ...v.params].join(':')).join(', ');
  if (!entry) throw invalidParameterError('--init', `one of ${forms}`, text);
  const params = rest.map(Number);
  if (params.length !== entry.params.length || params.some((p) => !Number.isFinite(p))) {
    throw invalidParameterError('--init', `${[kind, ...entry.params].join(':')} with numbers`, text);
  }
  if (kind === 'uniform' && params[1]! <= params[0]!) throw invalidParameterError('--init', 'uniform:LO:HI with LO < HI', text);
  if (kind === 'gaussian' && params[1]! < 0) throw invalidParameterError('--init', 'gaussian:MEAN:STD with STD >= 0', text);
  return { kind: kind!, params, text };
}

export function makeInitImage(spec: InitSpec, shape: ImageShape, rng: Rng): Float32Array {
  return NOISE_INITS[spec.kind]!.make(spec.params, shape, rng);
}
