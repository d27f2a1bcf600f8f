#!/usr/bin/env node
/**
 * unet-dream's install step: makes ONNX Runtime (its default engine) available without running onnxruntime-node's
 * own postinstall, which on Linux x64 downloads CUDA binaries from nuget.org by default. Nothing happens when
 * onnxruntime-node already resolves (a checkout, or a project that installed it itself). Otherwise the pinned
 * version is installed from the npm registry into runtime/ with `npm ci --ignore-scripts` against
 * runtime/package-lock.json (integrity-checked; the CPU binaries are inside the npm tarball).
 *
 * It never fails the install: if the registry cannot be reached, unet-dream still runs on TensorFlow.js (wasm),
 * and `npm rebuild unet-dream` retries. GPU users add the CUDA provider as README "Install" says.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runtime = path.join(root, 'runtime');

function resolves(from) {
  try {
    createRequire(from).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

if (resolves(path.join(root, 'package.json')) || resolves(path.join(runtime, 'package.json'))) process.exit(0);

// The outer npm's settings reach us as npm_config_* variables; `global` and `prefix` would send the inner
// install to the global folder. Keep only what says where and how to reach the registry.
const KEEP = /^npm_config_(registry|cache|userconfig|globalconfig|proxy|https_proxy|noproxy|no_proxy|strict_ssl|cafile|ca|cert|key|offline|prefer_offline|prefer_online|fetch_.*|maxsockets|loglevel|@.*:registry|\/\/.*)$/i;
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || KEEP.test(k)));
const npmCli = process.env.npm_execpath;
const [command, args] =
  npmCli && existsSync(npmCli) ? [process.execPath, [npmCli]] : [process.platform === 'win32' ? 'npm.cmd' : 'npm', []];
const result = spawnSync(command, [...args, 'ci', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
  cwd: runtime,
  env,
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
});
if (result.status === 0 && resolves(path.join(runtime, 'package.json'))) {
  console.log('unet-dream: ONNX Runtime (CPU) installed from the npm registry');
} else {
  const reason = (result.stderr || result.error?.message || `npm exited ${result.status}`).trim().split('\n').filter(Boolean).pop();
  console.log(`unet-dream: ONNX Runtime not installed (${reason}); unet-dream will run on TensorFlow.js (wasm). Retry with: npm rebuild unet-dream`);
}
