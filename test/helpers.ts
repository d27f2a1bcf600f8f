/** Small models and temp folders shared by the tests. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { tf, type LayersModel } from '../src/tf.js';
import { UsageError } from '../src/errors.js';
import { validatePipeline } from '../src/pipeline/validate.js';

export function tempDir(prefix = 'unet-dream-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** conv(relu) -> BN -> maxpool -> conv(linear): every layer type the seed's ascent differentiates through. */
export function tinyConvNet(seed = 7, activation: 'relu' | 'tanh' = 'relu'): LayersModel {
  const input = tf.input({ shape: [null, null, 1], name: 'input' });
  let x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation, name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 1 }) })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn', movingMeanInitializer: tf.initializers.constant({ value: 0.05 }), movingVarianceInitializer: tf.initializers.constant({ value: 0.8 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'linear', name: 'c2', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const result = await fn();
    return { result, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
}

/** mulberry32: a small seeded uniform [0, 1) generator, so a test tries the same cases every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The message of a pipeline validatePipeline refuses (a UsageError); fails the test when it is accepted. */
export function refusalOf(raw: unknown): string {
  try {
    validatePipeline(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected the pipeline to be refused');
}
