/** manifest.json: what was run, with what, and what came out; written atomically, rewritten as a batch progresses. */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { PACKAGE_ROOT } from '../model/paths.js';

const require = createRequire(import.meta.url);

const VERSIONED_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp', 'onnxruntime-node'];

function versionOf(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function packageVersions(): Record<string, string> {
  const versions: Record<string, string> = {
    'unet-dream': (require(path.join(PACKAGE_ROOT, 'package.json')) as { version: string }).version,
    node: process.versions.node,
  };
  for (const pkg of VERSIONED_PACKAGES) {
    const v = versionOf(pkg);
    if (v) versions[pkg] = v;
  }
  return versions;
}

export interface Manifest {
  command: string;
  config: unknown;
  model: { spec: string; id: string; sha256: string; trained: boolean; note: string };
  engine: { engine: string; backend: string; provider: string; stats?: unknown };
  versions: Record<string, string>;
  seed: number;
  startedAt: string;
  wallTimeMs: number;
  results: unknown[];
  /** Filters mode: per-layer figures (dead units, line detectors by direction). */
  layers?: unknown[];
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<string> {
  const file = path.join(dir, 'manifest.json');
  await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}

/** OUT/manifest.json, or undefined when there is none; throws when it exists but is not a manifest. */
export async function readManifest(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'manifest.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const manifest = JSON.parse(text) as Manifest;
  if (typeof manifest !== 'object' || manifest === null || !Array.isArray(manifest.results)) throw new Error('not a unet-dream manifest');
  return manifest;
}
