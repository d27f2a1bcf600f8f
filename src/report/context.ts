/** What a section renderer gets: the output folder, its manifest, and a writer for files under report/. */
import path from 'node:path';
import { ensureWritableDir, writeFileAtomic } from '../io/atomic.js';

/** manifest.json as read: every field may be missing in an older or foreign manifest. */
export interface LooseManifest {
  command?: string;
  config?: Record<string, unknown> & { ascend?: { mode?: string }; render?: { colormap?: string; normalize?: string } };
  model?: { spec?: string; id?: string; sha256?: string; trained?: boolean; note?: string; engine?: string; backend?: string };
  engine?: { engine?: string; backend?: string; provider?: string; stats?: unknown };
  versions?: Record<string, string>;
  seed?: number;
  startedAt?: string;
  wallTimeMs?: number;
  results?: unknown[];
  layers?: unknown[];
}

export const ASSET_DIR = 'report';

export class ReportContext {
  /** Bytes written under report/ by this build. */
  assetBytes = 0;
  private made = new Map<string, Promise<void>>();

  constructor(
    readonly dir: string,
    readonly manifest: LooseManifest,
  ) {}

  /** Writes report/NAME atomically and returns its path relative to the output folder. */
  async writeAsset(name: string, data: Uint8Array | string): Promise<string> {
    const relative = path.join(ASSET_DIR, name);
    const file = path.join(this.dir, relative);
    const parent = path.dirname(file);
    // One check per folder, shared by concurrent writers (the check's probe file is per process).
    if (!this.made.has(parent)) this.made.set(parent, ensureWritableDir(parent));
    await this.made.get(parent);
    await writeFileAtomic(file, data);
    this.assetBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    return relative;
  }

  /** A path from the manifest, resolved inside the output folder (never outside it). */
  inside(relative: string): string | undefined {
    const file = path.resolve(this.dir, relative);
    const root = path.resolve(this.dir);
    return file.startsWith(root + path.sep) ? file : undefined;
  }
}

export type SectionRenderer = (ctx: ReportContext) => Promise<{ nav: { id: string; label: string }[]; html: string }>;
