/**
 * Chooses the TensorFlow.js backend. `auto` walks the list fastest-first and takes the first that
 * loads; an explicitly requested backend that cannot load is a usage error saying why and how to fix it.
 * tfjs-node and tfjs-node-gpu are not dependencies at all (their install downloads libtensorflow from
 * outside the npm registry): a user installs one on purpose (README, "GPU"), and it is probed here with
 * a dynamic import rather than imported statically.
 */
import { tf } from '../tf.js';
import { UsageError, invalidParameterError } from '../errors.js';
import { registerFastGradients } from './gradients/index.js';

export const BACKEND_CHOICES = ['auto', 'onnx', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** tfjs backend name as registered: tensorflow, wasm or cpu. */
  name: string;
  /** Which package provided it, e.g. @tensorflow/tfjs-node-gpu. */
  provider: string;
  /** Why earlier candidates were skipped when choosing automatically. */
  skipped: string[];
}

interface Candidate {
  backend: 'tensorflow' | 'wasm' | 'cpu';
  provider: string;
  load: () => Promise<void>;
  howToInstall: string;
}

async function importOptional(pkg: string): Promise<void> {
  // A variable specifier keeps TypeScript from resolving the optional package at compile time.
  const specifier: string = pkg;
  await import(specifier);
}

const CANDIDATES: readonly Candidate[] = Object.freeze([
  {
    backend: 'tensorflow',
    provider: '@tensorflow/tfjs-node-gpu',
    load: () => importOptional('@tensorflow/tfjs-node-gpu'),
    howToInstall:
      'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` on a machine with CUDA 11.2 and cuDNN 8.1 (its install downloads libtensorflow)',
  },
  {
    backend: 'tensorflow',
    provider: '@tensorflow/tfjs-node',
    load: () => importOptional('@tensorflow/tfjs-node'),
    howToInstall:
      'install it with `npm install @tensorflow/tfjs-node@4.22.0` on a machine with internet access (its install downloads libtensorflow)',
  },
  {
    backend: 'wasm',
    provider: '@tensorflow/tfjs-backend-wasm',
    load: () => import('@tensorflow/tfjs-backend-wasm').then(() => undefined),
    howToInstall: 'reinstall dependencies with `npm ci`',
  },
  {
    backend: 'cpu',
    provider: '@tensorflow/tfjs-backend-cpu',
    load: async () => undefined,
    howToInstall: 'reinstall dependencies with `npm ci`',
  },
]);

function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  if (/Cannot find (module|package)/.test(firstLine)) return 'the package is not installed';
  return firstLine;
}

async function activate(candidate: Candidate): Promise<void> {
  await candidate.load();
  const ok = await tf.setBackend(candidate.backend);
  if (!ok) throw new Error(`tfjs could not initialise the ${candidate.backend} backend`);
  await tf.ready();
  // wasm's own gradients are slow (Conv2DBackpropInput) or missing (Conv2DBackpropFilter): replace them.
  if (candidate.backend === 'wasm' && process.env.UNET_DREAM_DEFAULT_GRADIENTS !== '1') registerFastGradients();
}

let active: BackendInfo | undefined;

/**
 * Loads and activates a tfjs backend. Idempotent for the same request within a process.
 * `onnx` is an engine, not a tfjs backend: it is resolved by engine/select.ts, which still needs
 * a tfjs backend for the model itself and asks for `auto` here.
 */
export async function selectBackend(choice: BackendChoice): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw invalidParameterError('backend', `one of ${BACKEND_CHOICES.join(', ')}`, choice);
  }
  const wanted = choice === 'onnx' ? 'auto' : choice;
  if (active && (wanted === 'auto' || active.name === wanted)) return active;

  const skipped: string[] = [];
  const candidates = wanted === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.backend === wanted);
  for (const candidate of candidates) {
    try {
      await activate(candidate);
      active = { name: candidate.backend, provider: candidate.provider, skipped };
      return active;
    } catch (err) {
      skipped.push(`${candidate.provider}: ${reason(err)}`);
      if (wanted !== 'auto' && candidate === candidates[candidates.length - 1]) {
        const tries = candidates.map((c) => c.provider).join(' or ');
        throw new UsageError(
          `backend ${wanted} cannot load: ${skipped.join('; ')}. To use it, ${candidate.howToInstall}` +
            (candidates.length > 1 ? ` (tried ${tries})` : ''),
          'backend',
        );
      }
    }
  }
  throw new UsageError(`no TensorFlow.js backend could load: ${skipped.join('; ')}`);
}
