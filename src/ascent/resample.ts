/** Bilinear resizing of interleaved float images (octaves need float precision; sharp is 8/16-bit). */

export interface Plane {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/** Bilinear resize with half-pixel centres (like TF's resize with half_pixel_centers, and sharp). */
export function resize(src: Plane, width: number, height: number): Plane {
  if (width === src.width && height === src.height) return { ...src, data: Float32Array.from(src.data) };
  const { channels } = src;
  const out = new Float32Array(width * height * channels);
  const sx = src.width / width;
  const sy = src.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), src.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, src.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), src.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, src.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const a = src.data[(y0 * src.width + x0) * channels + c]!;
        const b = src.data[(y0 * src.width + x1) * channels + c]!;
        const d = src.data[(y1 * src.width + x0) * channels + c]!;
        const e = src.data[(y1 * src.width + x1) * channels + c]!;
        out[(y * width + x) * channels + c] = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
      }
    }
  }
  return { data: out, width, height, channels };
}

/** Circular shift by (dx, dy): jitter that moves the tile grid so seams never stay in one place. */
export function roll(src: Plane, dx: number, dy: number): Plane {
  const { width, height, channels } = src;
  const out = new Float32Array(src.data.length);
  const mx = ((dx % width) + width) % width;
  const my = ((dy % height) + height) % height;
  for (let y = 0; y < height; y++) {
    const ty = (y + my) % height;
    for (let x = 0; x < width; x++) {
      const tx = (x + mx) % width;
      const s = (y * width + x) * channels;
      const d = (ty * width + tx) * channels;
      for (let c = 0; c < channels; c++) out[d + c] = src.data[s + c]!;
    }
  }
  return { data: out, width, height, channels };
}

/** Copies the rectangle (x, y, w, h), reflecting at the borders where it reaches outside. */
export function crop(src: Plane, x: number, y: number, w: number, h: number): Plane {
  const { channels } = src;
  const out = new Float32Array(w * h * channels);
  const reflect = (v: number, n: number) => {
    if (n === 1) return 0;
    const period = 2 * (n - 1);
    const m = ((v % period) + period) % period;
    return m < n ? m : period - m;
  };
  for (let j = 0; j < h; j++) {
    const sy = reflect(y + j, src.height);
    for (let i = 0; i < w; i++) {
      const sx = reflect(x + i, src.width);
      for (let c = 0; c < channels; c++) out[(j * w + i) * channels + c] = src.data[(sy * src.width + sx) * channels + c]!;
    }
  }
  return { data: out, width: w, height: h, channels };
}
