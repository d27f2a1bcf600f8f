/**
 * Fuzz (issue 15 "Done when"): every file in ../shared/realdata, truncated and corrupted at seeded offsets, is read;
 * each read either gives images or fails with an InputError whose message is one line naming the file. Nothing else
 * may escape: no TypeError, no RangeError, no crash. Seeded (the same cases every run) and bounded (a fixed number
 * of cases per file, the large files read one slice). Skipped, with a note, when ../shared/realdata is absent.
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { readImages } from '../src/io/index.js';
import { mulberry32 } from './helpers.js';

const REALDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/realdata');
const present = existsSync(REALDATA);
if (!present) console.log(`io-fuzz: ${REALDATA} not found; the fuzz test is skipped`);
const FILES = present
  ? readdirSync(REALDATA, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => readdirSync(path.join(REALDATA, d.name)).map((f) => `${d.name}/${f}`))
      .sort()
  : [];


interface Case {
  name: string;
  bytes: Uint8Array;
}

/** Truncations (the first bytes, a few early header offsets, seeded points) and corruptions (seeded byte runs). */
function cases(bytes: Uint8Array, random: () => number): Case[] {
  const n = bytes.length;
  const large = n > 200_000; // fewer cases for the large files, to bound the test's time
  const fixed = large ? [1, 132, 400, Math.floor(n / 2), n - 1] : [1, 100, 132, 348, 400, Math.floor(n / 2), n - 1];
  const cuts = [...fixed, ...Array.from({ length: large ? 1 : 3 }, () => Math.floor(random() * n))].filter((c) => c > 0 && c < n);
  const out: Case[] = [...new Set(cuts)].map((c) => ({ name: `cut${c}`, bytes: bytes.subarray(0, c) }));
  for (let k = 0; k < (large ? 3 : 6); k++) {
    const copy = bytes.slice();
    // Early offsets hit headers (sizes, offsets, counts); later ones hit pixel data.
    const at = k < 3 ? Math.floor(random() * Math.min(n, 2048)) : Math.floor(random() * n);
    const run = 1 + Math.floor(random() * 8);
    for (let i = 0; i < run && at + i < n; i++) copy[at + i] = k % 2 === 0 ? Math.floor(random() * 256) : 0xff;
    out.push({ name: `corrupt${at}x${run}`, bytes: copy });
  }
  // "Interesting" values over header fields: sizes and counts of 0, -1, 2^31 - 1, -2^31, in both byte orders.
  const interesting = [[0, 0, 0, 0], [0xff, 0xff, 0xff, 0xff], [0xff, 0xff, 0xff, 0x7f], [0x7f, 0xff, 0xff, 0xff], [0, 0, 0, 0x80], [0x80, 0, 0, 0]];
  for (let k = 0; k < 3; k++) {
    const copy = bytes.slice();
    const at = Math.floor(random() * Math.min(n - 4, 1024));
    const value = interesting[Math.floor(random() * interesting.length)]!;
    copy.set(value.slice(0, 2 + 2 * Math.floor(random() * 2)), at);
    out.push({ name: `value${at}`, bytes: copy });
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'io-fuzz-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe.skipIf(!present)('fuzz: truncated and corrupted real files', () => {
  for (const [index, rel] of FILES.entries()) {
    it(`${rel}: every case reads or fails with a one-line InputError naming the file`, async () => {
      const bytes = new Uint8Array(await fs.readFile(path.join(REALDATA, rel)));
      const random = mulberry32(0x5eed + index);
      let failures = 0;
      for (const c of cases(bytes, random)) {
        // The case keeps the real file's name (its extension drives the messages) in a folder of its own.
        const file = path.join(dir, `${index}-${c.name}`, path.basename(rel));
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, c.bytes);
        // Large inputs read one slice / frame / page: the reader's checks all run, the decode stays small.
        const outcome = await readImages(file, bytes.length > 200_000 ? { slice: 0 } : {}).then(
          (images) => images,
          (err: unknown) => err,
        );
        if (Array.isArray(outcome)) {
          for (const image of outcome) expect(image.width * image.height * image.channels).toBe(image.data.length);
          continue;
        }
        failures++;
        expect(outcome, `${rel} ${c.name}: ${String(outcome)}`).toBeInstanceOf(InputError);
        const message = (outcome as Error).message;
        expect(message, `${rel} ${c.name}`).not.toContain('\n');
        expect(message.startsWith(`${file}: `), `${rel} ${c.name}: ${message}`).toBe(true);
        expect(message.length - file.length, `${rel} ${c.name}: ${message}`).toBeLessThan(300);
      }
      // Truncations of a real file must be refused, at least the cut to one byte.
      expect(failures).toBeGreaterThan(0);
    });
  }
});
