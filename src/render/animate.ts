/** Animations of an ascent: recorded frames to one looping animated WebP, written by sharp. */
import sharp from 'sharp';
import type { RgbImage } from './tile.js';

export interface AnimationOptions {
  /** Milliseconds per frame (default 120); the last frame is held 1 s so the result can be seen. */
  delay?: number;
}

/** Frames of one size to an animated WebP (lossless: tiles are small and colormapped). */
export async function encodeAnimation(frames: RgbImage[], options: AnimationOptions = {}): Promise<Buffer> {
  if (frames.length === 0) throw new Error('an animation needs at least one frame');
  const { width, height } = frames[0]!;
  const strip = new Uint8Array(width * height * 3 * frames.length);
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height) throw new Error(`animation frame ${i} is ${f.width}x${f.height}, not ${width}x${height}`);
    strip.set(f.data, i * width * height * 3);
  });
  const delay = options.delay ?? 120;
  return sharp(strip, { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } })
    .webp({ lossless: true, loop: 0, delay: frames.map((_, i) => (i === frames.length - 1 ? 1000 : delay)) })
    .toBuffer();
}

/** Steps between recorded frames so an ascent of `steps` steps gives at most about `frames` frames. */
export function recordInterval(steps: number, frames = 24): number {
  return Math.max(1, Math.ceil(steps / frames));
}
