/**
 * The job queue against real components: a redis-server of our own on a free port (with a password, so
 * redaction is tested everywhere), worker processes of the real CLI, real files. Skipped only when no
 * redis-server binary exists (CI installs Debian's; see .ci/run).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { createImage } from '../src/io/image.js';
import { readImages } from '../src/io/read.js';
import { writeImage } from '../src/io/write.js';
import { randomPhantom } from '../src/mri/index.js';
import { parseRedisUrl } from '../src/queue/redis.js';
import { createRng } from '../src/random.js';
import { captureOutput, tempDir } from './helpers.js';

const redisBinary = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0 ? 'redis-server' : undefined;
if (!redisBinary) console.warn('queue tests skipped: no redis-server binary on PATH (Debian: apt-get install redis-server)');

const PASSWORD = 'pw-Zq81-never-printed';
const bin = path.resolve('src/cli/bin.ts');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** 12 slices of 64x64: 5 PNG, 3 NIfTI, 2 DICOM, and 2 corrupt files. */
async function makeSlices(): Promise<string> {
  const dir = tempDir('unet-dream-queue-in-');
  for (let i = 0; i < 10; i++) {
    const phantom = randomPhantom(64, createRng(900 + i));
    const name = `slice-${String(i).padStart(2, '0')}`;
    if (i < 5) {
      const bytes = Buffer.from(phantom.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255)));
      await sharp(bytes, { raw: { width: 64, height: 64, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, `${name}.png`));
    } else {
      const format = i < 8 ? 'nifti' : 'dicom';
      await writeImage(createImage(64, 64, 1, phantom.map((v) => Math.round(v * 1000)), { format, dtype: 'int16', bitDepth: 16 }), path.join(dir, `${name}${format === 'nifti' ? '.nii.gz' : '.dcm'}`));
    }
  }
  writeFileSync(path.join(dir, 'slice-03b-corrupt.png'), 'this is not a PNG');
  writeFileSync(path.join(dir, 'slice-07b-corrupt.dcm'), Buffer.alloc(200, 7));
  return dir;
}

function pipelineFile(): string {
  const file = path.join(tempDir(), 'queue.yaml');
  writeFileSync(file, 'seed: { inputs: [unused], seed: 11 }\nascend: { mode: dream, layers: [dconv128], octaves: 1, steps: 6, step: 0.05, jitter: 2 }\n');
  return file;
}

interface Spawned {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

describe.skipIf(!redisBinary)('queue on a real redis-server', () => {
  let server: ChildProcess;
  let url: string;
  let port: number;
  const spawned: ChildProcess[] = [];

  beforeAll(async () => {
    port = await freePort();
    const dir = tempDir('unet-dream-redis-');
    server = spawn(redisBinary!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', PASSWORD], { stdio: 'ignore' });
    url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const client = new Redis({ ...parseRedisUrl(url).options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    for (let i = 0; ; i++) {
      try {
        await client.connect();
        await client.ping();
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    client.disconnect();
  });

  afterAll(() => {
    for (const c of spawned) if (c.exitCode === null) c.kill('SIGKILL');
    server?.kill('SIGTERM');
  });

  function startWorker(name: string, extra: string[] = []): Spawned {
    // The URL through the environment, as the README recommends for passwords.
    const child = spawn(process.execPath, ['--import', 'tsx', bin, 'worker', '--name', name, '--lock-ms', '8000', '--stalled-ms', '1000', ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, UNET_DREAM_REDIS_URL: url, CI: '1' },
    });
    spawned.push(child);
    let log = '';
    child.stdout!.on('data', (d) => (log += String(d)));
    child.stderr!.on('data', (d) => (log += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, log: () => log, exited };
  }

  async function activeJobOf(queue: Queue, worker: string, timeoutMs = 400_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const job = (await queue.getActive()).find((j) => j.processedBy === worker);
      if (job) return job.id!;
      await new Promise((r) => setTimeout(r, 40));
    }
    throw new Error(`worker ${worker} never took a job`);
  }

  it('12 slices, 2 corrupt, 2 workers, one SIGKILLed mid-job, one SIGTERMed mid-job: every output once, the manifest of a local batch', { timeout: 900_000 }, async () => {
    const dir = await makeSlices();
    const pipeline = pipelineFile();
    const shared = path.join(tempDir('unet-dream-queue-out-'), 'shared');
    const submit = ['queue', 'submit', dir, '--pipeline', pipeline, '--out', shared, '--redis', url, '--backend', 'wasm'];
    let r = await captureOutput(() => main(submit));
    expect(r.stderr).toBe('');
    expect(r.result).toBe(0);
    expect(r.stdout).toContain('12 inputs, 12 new jobs, 0 already queued');
    expect(r.stdout).toContain(`redis://:***@127.0.0.1:${port}`);
    // Resubmitting adds nothing: job ids are hashes of model, config, path and content.
    r = await captureOutput(() => main(submit));
    expect(r.stdout).toContain('12 inputs, 0 new jobs, 12 already queued');

    const queue = new Queue('unet-dream', { connection: { ...parseRedisUrl(url).options } as never });
    try {
      const a = startWorker('worker-a');
      const b = startWorker('worker-b');
      const firstActive = (ws: { w: Spawned; name: string }[]) => Promise.race(ws.map((x) => activeJobOf(queue, x.name).then((id) => ({ ...x, id }))));
      // Kill whichever worker first holds a job, mid-job, without a chance to clean up.
      const first = await firstActive([{ w: a, name: 'worker-a' }, { w: b, name: 'worker-b' }]);
      first.w.child.kill('SIGKILL');
      const killedJob = first.id;
      const survivor = first.w === a ? { w: b, name: 'worker-b' } : { w: a, name: 'worker-a' };
      // A third worker, which leaves by itself once the queue is empty (--drain).
      const c = { w: startWorker('worker-c', ['--drain']), name: 'worker-c' };
      // SIGTERM whichever of the two holds a job first: it finishes that job (its record is written) and exits 0.
      const term = await firstActive([survivor, c]);
      term.w.child.kill('SIGTERM');
      expect(await term.w.exited).toBe(0);
      expect(term.w.log()).toContain('SIGTERM: worker');
      expect(existsSync(path.join(shared, '.unet-dream-queue', 'records', `${term.id}.json`))).toBe(true);
      const rest = term === c || term.name === 'worker-c' ? survivor : c;
      // The other one finishes every job, including the killed one once its lock expires.
      const deadline = Date.now() + 400_000;
      for (;;) {
        const n = await queue.getJobCounts('completed', 'failed');
        if (n.completed + n.failed === 12) break;
        if (Date.now() > deadline) throw new Error(`only ${n.completed + n.failed} of 12 jobs finished`);
        await new Promise((r) => setTimeout(r, 200));
      }
      if (rest !== c) rest.w.child.kill('SIGTERM'); // worker-c leaves by itself (--drain)
      expect(await rest.w.exited).toBe(0);
      expect(await first.w.exited).toBe(null); // killed by the signal
      expect(await queue.getJobState(term.id)).toMatch(/^(completed|failed)$/);

      // The killed job was recovered as stalled and completed by another worker.
      const recovered = (await queue.getJob(killedJob))!;
      expect(await recovered.getState()).toMatch(/^(completed|failed)$/);
      expect(recovered.processedBy).not.toBe(first.name);
      expect(recovered.stalledCounter).toBeGreaterThanOrEqual(1);

      const counts = await queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
      expect(counts).toEqual({ completed: 10, failed: 2, wait: 0, active: 0, delayed: 0 });
      const failed = await queue.getFailed();
      expect(failed.map((j) => path.basename(j.data.input.text)).sort()).toEqual(['slice-03b-corrupt.png', 'slice-07b-corrupt.dcm']);
      for (const j of failed) {
        expect(j.failedReason).toContain(j.data.input.text);
        expect(j.failedReason).not.toContain('\n');
        expect(j.attemptsMade).toBe(1); // an input error is not retried
      }

      const status = await captureOutput(() => main(['queue', 'status', '--redis', url]));
      expect(status.result).toBe(0);
      expect(status.stdout).toContain('0 waiting, 0 active, 0 delayed (retry backoff), 10 completed, 2 failed');
      expect(status.stdout.split('\n').filter((l) => l.startsWith('  failed: '))).toHaveLength(2);
      expect(status.stdout).toContain('slice-03b-corrupt.png: ');

      // Every output exactly once, none corrupt, no temporaries.
      const files = readdirSync(shared).filter((f) => !f.startsWith('.') && f !== 'manifest.json').sort();
      expect(files).toEqual(['slice-00.png', 'slice-01.png', 'slice-02.png', 'slice-03.png', 'slice-04.png', 'slice-05.nii.gz', 'slice-06.nii.gz', 'slice-07.nii.gz', 'slice-08.dcm', 'slice-09.dcm']);
      expect(readdirSync(shared).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      // A local batch of the same folder with the same pipeline and seed.
      const local = path.join(tempDir(), 'local');
      const batch = await captureOutput(() => main(['batch', dir, '--pipeline', pipeline, '--out', local, '--backend', 'wasm', '--concurrency', '1']));
      expect(batch.result).toBe(1);
      const q = JSON.parse(readFileSync(path.join(shared, 'manifest.json'), 'utf8'));
      const l = JSON.parse(readFileSync(path.join(local, 'manifest.json'), 'utf8'));
      expect(q.results).toEqual(l.results);
      expect(q.results).toHaveLength(12);
      // The same config but for the output folder.
      expect({ ...q.config, write: { ...q.config.write, out: null } }).toEqual({ ...l.config, write: { ...l.config.write, out: null } });
      expect(q.model).toEqual(l.model);
      expect(q.queue).toMatchObject({ inputs: 12, recorded: 12 });
      for (const f of files) {
        if (f.endsWith('.dcm')) {
          // DICOM outputs get new UIDs and dates per write; their pixels must agree.
          const [x] = await readImages(path.join(shared, f));
          const [y] = await readImages(path.join(local, f));
          expect(Array.from(x!.data)).toEqual(Array.from(y!.data));
        } else {
          expect(readFileSync(path.join(shared, f)).equals(readFileSync(path.join(local, f))), f).toBe(true);
        }
      }

      // The password appears nowhere: not in output, logs, jobs' data or any file under SHARED_OUT.
      for (const text of [r.stdout, r.stderr, status.stdout, a.log(), b.log(), c.w.log()]) expect(text).not.toContain(PASSWORD);
      const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
      for (const f of walk(shared)) expect(readFileSync(f).includes(PASSWORD), f).toBe(false);
      expect(JSON.stringify((await queue.getCompleted()).map((j) => j.data))).not.toContain(PASSWORD);
    } finally {
      await queue.close();
    }
  });

  it('an unreachable server or a wrong password: exit 2, one line, the URL redacted', async () => {
    const closed = await freePort();
    let r = await captureOutput(() => main(['queue', 'status', '--redis', `redis://:${PASSWORD}@127.0.0.1:${closed}`]));
    expect(r.result).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`cannot reach the queue at redis://:***@127.0.0.1:${closed}: connection refused`);
    r = await captureOutput(() => main(['queue', 'status', '--redis', `redis://:wrong-${PASSWORD}@127.0.0.1:${port}`]));
    expect(r.result).toBe(2);
    expect(r.stderr).toMatch(/cannot reach the queue at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: .*(WRONGPASS|invalid)/i);
    for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(PASSWORD);
  });
});
