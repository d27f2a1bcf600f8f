import { promises as fs } from 'node:fs';
import path from 'node:path';
import h5wasm, { type Group } from 'h5wasm/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf } from '../src/tf.js';
import { InputError } from '../src/errors.js';
import { loadKerasH5, saveKerasH5 } from '../src/model/keras-h5.js';
import { tempDir } from './helpers.js';

/** Copies every attribute, group and dataset of `from` into `to`, except that `replace` decides some paths. */
function copyGroup(from: Group, to: Group, replace: (where: string, to: Group, name: string) => boolean): void {
  for (const name of from.attrs ? Object.keys(from.attrs) : []) {
    const attr = from.attrs[name]!;
    to.create_attribute(name, attr.value as never, attr.shape, attr.dtype as never);
  }
  for (const name of from.keys()) {
    const where = from.path === '/' ? `/${name}` : `${from.path}/${name}`;
    if (replace(where, to, name)) continue;
    const node = from.get(name);
    if (node instanceof h5wasm.Group) copyGroup(node, to.create_group(name), replace);
    else if (node instanceof h5wasm.Dataset) to.create_dataset({ name, data: node.value as Float32Array, shape: node.shape!, dtype: '<f' });
  }
}

describe('a Keras .h5 reads nothing outside itself', () => {
  let dir: string;
  let modelFile: string;
  let secretFile: string;
  const kernelPath = '/model_weights/k1/k1/kernel:0';

  beforeAll(async () => {
    await selectBackend('wasm');
    await h5wasm.ready;
    dir = tempDir();
    modelFile = path.join(dir, 'model.h5');
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, name: 'k1' })] });
    await saveKerasH5(model, modelFile);
    // A "host file" in HDF5 form holding a dataset of the kernel's shape.
    secretFile = path.join(dir, 'secret.h5');
    const secret = new h5wasm.File(secretFile, 'w');
    secret.create_dataset({ name: 'stolen', data: Float32Array.of(7, 7, 7, 7), shape: [2, 2], dtype: '<f' });
    secret.close();
  });

  async function rewritten(name: string, replace: (where: string, to: Group, name: string) => boolean, extra?: (f: InstanceType<typeof h5wasm.File>) => void): Promise<string> {
    const out = path.join(dir, name);
    const src = new h5wasm.File(modelFile, 'r');
    const dst = new h5wasm.File(out, 'w');
    try {
      copyGroup(src, dst, replace);
      extra?.(dst);
    } finally {
      src.close();
      dst.close();
    }
    return out;
  }

  it('the copy helper itself gives a loadable model (control)', async () => {
    const file = await rewritten('copy.h5', () => false);
    const model = await loadKerasH5(file);
    expect(model.countParams()).toBe(6);
  });

  it('a weight stored as an external link to another file is refused, naming the link and the file', async () => {
    const file = await rewritten('linked-weight.h5', (where, to, name) => {
      if (where !== kernelPath) return false;
      to.create_external_link(secretFile, '/stolen', name);
      return true;
    });
    const err = await loadKerasH5(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`${file}: ${kernelPath} is an external link to ${JSON.stringify(secretFile)}; a model file must hold its own data, links to other files are refused`);
  });

  it('an external link anywhere in the file is refused before anything is read', async () => {
    const file = await rewritten('linked-extra.h5', () => false, (f) => f.create_external_link(secretFile, '/stolen', 'extra'));
    const err = await loadKerasH5(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('/extra is an external link to');
  });

  it('the model file and a saved file still open normally after refusals (the guard is scoped to one read)', async () => {
    const again = path.join(dir, 'again.h5');
    await saveKerasH5(await loadKerasH5(modelFile), again);
    const f = new h5wasm.File(secretFile, 'r');
    expect(f.keys()).toEqual(['stolen']);
    f.close();
    await fs.rm(again);
  });
});
