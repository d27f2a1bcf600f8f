import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/engine/backend.js';
import { tf } from '../src/tf.js';
import { InputError } from '../src/errors.js';
import { loadKerasH5 } from '../src/model/keras-h5.js';
import { loadModel } from '../src/model/load.js';
import { saveLayersModel } from '../src/model/tfjs-files.js';
import { main } from '../src/cli/main.js';
import { captureOutput, tempDir } from './helpers.js';

/** A model folder whose model.json lists `paths` for its weights, next to a secret file outside it. */
async function modelPointingAt(paths: (dir: string, secret: string) => string[]): Promise<{ json: string; secret: string; dir: string }> {
  const root = tempDir();
  const dir = path.join(root, 'model');
  const secret = path.join(root, 'secret.bin');
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, name: 'd' })] });
  await saveLayersModel(model, dir);
  // The secret has exactly the weights' byte length, so only the path check can refuse it.
  await fs.writeFile(secret, await fs.readFile(path.join(dir, 'weights.bin')));
  const json = path.join(dir, 'model.json');
  const doc = JSON.parse(await fs.readFile(json, 'utf8'));
  doc.weightsManifest[0].paths = paths(dir, secret);
  await fs.writeFile(json, JSON.stringify(doc));
  return { json, secret, dir };
}

describe('a model file reads nothing outside its folder', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('weight paths with ../, absolute paths and symlinks leading out are refused, naming the path', async () => {
    const cases: [string, (dir: string, secret: string) => Promise<string[]> | string[]][] = [
      ['../secret.bin', () => ['../secret.bin']],
      ['absolute', (_d, secret) => [secret]],
      ['sub/../../secret.bin', () => ['sub/../../secret.bin']],
      [
        'symlink',
        async (dir, secret) => {
          await fs.symlink(secret, path.join(dir, 'link.bin'));
          return ['link.bin'];
        },
      ],
    ];
    for (const [label, paths] of cases) {
      let listed: string[] = [];
      const { json } = await modelPointingAt((dir, secret) => {
        // resolved below for the symlink case, which needs the folder to exist
        listed = [dir, secret];
        return [];
      });
      const [dir, secret] = listed as [string, string];
      const weightPaths = await paths(dir, secret);
      const doc = JSON.parse(await fs.readFile(json, 'utf8'));
      doc.weightsManifest[0].paths = weightPaths;
      await fs.writeFile(json, JSON.stringify(doc));
      const err = await loadModel(json).catch((e: unknown) => e);
      expect(err, label).toBeInstanceOf(InputError);
      expect((err as Error).message, label).toBe(`${json}: weight path ${JSON.stringify(weightPaths[0])} points outside the model's folder; weight files must be inside ${dir}`);
    }
  });

  it('a weight file in a sub-folder of the model folder still loads', async () => {
    const { json, dir } = await modelPointingAt(() => ['shards/w.bin']);
    await fs.mkdir(path.join(dir, 'shards'));
    await fs.rename(path.join(dir, 'weights.bin'), path.join(dir, 'shards', 'w.bin'));
    const loaded = await loadModel(json);
    expect(loaded.model.countParams()).toBe(3);
  });

  it('convert refuses such a model and writes no bytes of the outside file', async () => {
    const { json, secret } = await modelPointingAt(() => ['../secret.bin']);
    const out = path.join(tempDir(), 'converted');
    const { result, stderr } = await captureOutput(() => main(['convert', json, out, '--backend', 'wasm']));
    expect(result).toBe(1);
    expect(stderr).toContain('points outside the model\'s folder');
    const secretBytes = await fs.readFile(secret);
    const written = existsSync(out) ? readdirSync(out).map((f) => path.join(out, f)) : [];
    for (const f of written) expect((await fs.readFile(f)).includes(secretBytes)).toBe(false);
  });

  it('a file that is not JSON given as a model never has its content in the message', async () => {
    const dir = tempDir();
    const cases: Record<string, string> = {
      'model.json': 'root:x:0:0:root:/root:/bin/bash\nSECRET-TOKEN-123\n',
      'bad-tail.json': '{"modelTopology": {}, "weightsManifest": []} SECRET-TOKEN-123',
      'binary.json': '\u0000\u0001SECRET-TOKEN-123\u0002',
    };
    for (const [name, content] of Object.entries(cases)) {
      const file = path.join(dir, name);
      await fs.writeFile(file, content);
      const err = await loadModel(file).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(InputError);
      expect((err as Error).message, name).not.toMatch(/SECRET|root:x/);
      expect((err as Error).message, name).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not JSON( \\(at byte \\d+\\))?; expected a TensorFlow.js model.json$`));
      // The Keras loader reads an architecture file the same way.
      const arch = await loadKerasH5(path.join(dir, 'none.h5'), { architecture: file }).catch((e: unknown) => e);
      expect((arch as Error).message).not.toMatch(/SECRET|root:x/);
    }
  });
});
