import { describe, it, expect } from 'vitest';
import { UsageError } from '../src/errors.js';
import {
  MODIFIED_SHEPP_LOGAN,
  cartesianLines,
  cartesianMask,
  dataConsistent,
  complexFromReal,
  createRng,
  fft2,
  fftshift,
  ifft2,
  ifftshift,
  kspace,
  magnitude,
  paintShape,
  psnr,
  randomPhantom,
  randomPhantomShapes,
  samplingFraction,
  sheppLogan,
  sheppLoganCoordinates,
  ssim,
  ssimKernel,
  undersample,
  zeroFilled,
  type Complex2D,
} from '../src/mri/index.js';

function complexZeros(width: number, height: number): Complex2D {
  return { width, height, re: new Float32Array(width * height), im: new Float32Array(width * height) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function expectUsageError(fn: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UsageError);
  expect((caught as UsageError).exitCode).toBe(2);
  for (const fragment of fragments) expect((caught as UsageError).message).toContain(fragment);
}

describe('createRng', () => {
  it('is deterministic, uniform in [0, 1), and its normals have mean 0 and variance 1', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);

    const rng = createRng(1);
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < 20000; i++) {
      const v = rng.next();
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / 20000).toBeCloseTo(0.5, 2);

    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < 20000; i++) {
      const z = rng.normal();
      s1 += z;
      s2 += z * z;
    }
    expect(Math.abs(s1 / 20000)).toBeLessThan(0.03);
    expect(s2 / 20000).toBeGreaterThan(0.95);
    expect(s2 / 20000).toBeLessThan(1.05);

    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[rng.int(3)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(900);
    expectUsageError(() => rng.int(0), 'n');
    expectUsageError(() => createRng(NaN), 'seed');
  });
});

describe('fft2 / ifft2', () => {
  it('maps a unit impulse at the origin to an all-ones spectrum', () => {
    const x = complexZeros(8, 4);
    x.re[0] = 1;
    const X = fft2(x);
    expect(maxAbsDiff(X.re, new Float32Array(32).fill(1))).toBeLessThan(1e-6);
    expect(maxAbsDiff(X.im, new Float32Array(32))).toBeLessThan(1e-6);
  });

  it('maps a shifted impulse to the analytic phase ramp exp(-2 pi i (kx x0 / W + ky y0 / H))', () => {
    const W = 16;
    const H = 8;
    const x0 = 3;
    const y0 = 5;
    const x = complexZeros(W, H);
    x.re[y0 * W + x0] = 1;
    const X = fft2(x);
    let worst = 0;
    for (let ky = 0; ky < H; ky++) {
      for (let kx = 0; kx < W; kx++) {
        const phase = -2 * Math.PI * ((kx * x0) / W + (ky * y0) / H);
        worst = Math.max(
          worst,
          Math.abs(X.re[ky * W + kx]! - Math.cos(phase)),
          Math.abs(X.im[ky * W + kx]! - Math.sin(phase)),
        );
      }
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('maps a pure cosine to two real peaks of W*H/2 at +-k and nothing else', () => {
    const W = 16;
    const H = 8;
    // cos(2 pi (2x/16 + 1y/8)): peaks at (kx, ky) = (2, 1) and (-2, -1) = (14, 7), each 16*8/2 = 64.
    const values = new Float32Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) values[y * W + x] = Math.cos(2 * Math.PI * ((2 * x) / W + y / H));
    const X = fft2(complexFromReal(values, W, H));
    const expected = new Float32Array(W * H);
    expected[1 * W + 2] = 64;
    expected[7 * W + 14] = 64;
    expect(maxAbsDiff(X.re, expected)).toBeLessThan(1e-4);
    expect(maxAbsDiff(X.im, new Float32Array(W * H))).toBeLessThan(1e-4);

    // A 1-row cosine cos(2 pi 3x/16) + 0.5: DC = 8, peaks of 8*... = 16/2 = 8 at kx = 3 and 13.
    const row = Float32Array.from({ length: 16 }, (_, x) => Math.cos((2 * Math.PI * 3 * x) / 16) + 0.5);
    const R = fft2(complexFromReal(row, 16, 1));
    const expectedRow = new Float32Array(16);
    expectedRow[0] = 8;
    expectedRow[3] = 8;
    expectedRow[13] = 8;
    expect(maxAbsDiff(R.re, expectedRow)).toBeLessThan(1e-5);
  });

  it('round-trips ifft2(fft2(x)) == x within 1e-5 and satisfies Parseval', () => {
    const W = 32;
    const H = 16;
    const rng = createRng(5);
    const x = complexZeros(W, H);
    for (let i = 0; i < W * H; i++) {
      x.re[i] = rng.next() * 2 - 1;
      x.im[i] = rng.next() * 2 - 1;
    }
    const X = fft2(x);
    const back = ifft2(X);
    expect(maxAbsDiff(back.re, x.re)).toBeLessThan(1e-5);
    expect(maxAbsDiff(back.im, x.im)).toBeLessThan(1e-5);

    let energy = 0;
    let spectral = 0;
    for (let i = 0; i < W * H; i++) {
      energy += x.re[i]! ** 2 + x.im[i]! ** 2;
      spectral += X.re[i]! ** 2 + X.im[i]! ** 2;
    }
    // sum |x|^2 == sum |X|^2 / (W H) with the unnormalised forward transform.
    expect(Math.abs(spectral / (W * H) - energy) / energy).toBeLessThan(1e-6);
  });

  it('throws a UsageError naming the size when it is not a power of two', () => {
    expectUsageError(() => fft2(complexZeros(100, 64)), 'image width', 'power of two', '100');
    expectUsageError(() => ifft2(complexZeros(64, 48)), 'image height', '48');
    expectUsageError(() => complexFromReal(new Float32Array(10), 4, 4), 'image', '16 values');
  });
});

describe('fftshift / ifftshift', () => {
  it('matches numpy on odd and even lengths and the two undo each other', () => {
    const five = Float32Array.from([0, 1, 2, 3, 4]);
    expect(Array.from(fftshift(five, 5, 1))).toEqual([3, 4, 0, 1, 2]);
    expect(Array.from(ifftshift(five, 5, 1))).toEqual([2, 3, 4, 0, 1]);
    expect(Array.from(fftshift(five, 1, 5))).toEqual([3, 4, 0, 1, 2]);
    const four = Uint8Array.from([0, 1, 2, 3]);
    const shifted = fftshift(four, 4, 1);
    expect(shifted).toBeInstanceOf(Uint8Array);
    expect(Array.from(shifted)).toEqual([2, 3, 0, 1]);

    const grid = Float32Array.from({ length: 15 }, (_, i) => i); // 5 wide, 3 high
    expect(Array.from(ifftshift(fftshift(grid, 5, 3), 5, 3))).toEqual(Array.from(grid));
    // Row 2 (last) moves to row 0, column 3 to column 0: out[0][0] = in[2][3] = 13.
    expect(fftshift(grid, 5, 3)[0]).toBe(13);
  });

  it('moves the DC term of a spectrum to the centre (W/2, H/2)', () => {
    const W = 16;
    const H = 8;
    const image = new Float32Array(W * H).fill(0.25);
    const X = fftshift(fft2(complexFromReal(image, W, H)));
    const centre = (H / 2) * W + W / 2;
    expect(X.re[centre]).toBeCloseTo(0.25 * W * H, 4);
    let elsewhere = 0;
    for (let i = 0; i < W * H; i++) if (i !== centre) elsewhere = Math.max(elsewhere, Math.hypot(X.re[i]!, X.im[i]!));
    expect(elsewhere).toBeLessThan(1e-5);
    expect(kspace(image, W, H).re[centre]).toBeCloseTo(32, 4);
  });
});

describe('cartesianMask', () => {
  const base = { width: 128, height: 128, acceleration: 4, center: 0.08 };

  it('samples N/R lines, always including the round(N * center) centre lines', () => {
    for (const pattern of ['random', 'equispaced'] as const) {
      for (const R of [2, 4, 8]) {
        const lines = cartesianLines({ ...base, acceleration: R, pattern, rng: createRng(9) });
        expect(lines.reduce((a, b) => a + b, 0)).toBe(128 / R);
        // 10 centre lines around DC (index 64): 59..68.
        for (let i = 59; i <= 68; i++) expect(lines[i]).toBe(1);
        const mask = cartesianMask({ ...base, acceleration: R, pattern, rng: createRng(9) });
        expect(samplingFraction(mask)).toBe(1 / R);
      }
    }
    // Non-divisible: 100 lines at R = 3 -> round(33.3) = 33 lines.
    const odd = cartesianMask({ width: 100, height: 20, acceleration: 3, center: 0.08 });
    expect(samplingFraction(odd)).toBeCloseTo(0.33, 10);
    // R = 1 samples everything; a centre larger than N/R wins (64 centre lines at R = 4).
    expect(samplingFraction(cartesianMask({ ...base, acceleration: 1 }))).toBe(1);
    expect(samplingFraction(cartesianMask({ ...base, center: 0.5 }))).toBe(0.5);
  });

  it('skips whole columns for axis x and whole rows for axis y', () => {
    const W = 64;
    const H = 32;
    const mx = cartesianMask({ width: W, height: H, acceleration: 4, axis: 'x', rng: createRng(2) });
    const my = cartesianMask({ width: W, height: H, acceleration: 4, axis: 'y', rng: createRng(2) });
    for (let y = 1; y < H; y++) expect(Array.from(mx.subarray(y * W, (y + 1) * W))).toEqual(Array.from(mx.subarray(0, W)));
    for (let y = 0; y < H; y++) {
      const row = my.subarray(y * W, (y + 1) * W);
      expect(new Set(row).size).toBe(1);
    }
    expect(samplingFraction(mx)).toBe(16 / 64);
    expect(samplingFraction(my)).toBe(8 / 32);
    // centre: round(64 * 0.08) = 5 columns 30..34 (DC = 32); round(32 * 0.08) = 3 rows 15..17.
    for (let x = 30; x <= 34; x++) expect(mx[x]).toBe(1);
    for (let y = 15; y <= 17; y++) expect(my[y * W]).toBe(1);
  });

  it('spaces equispaced lines evenly outside the centre', () => {
    const lines = cartesianLines({ ...base, pattern: 'equispaced', rng: createRng(4) });
    const outside: number[] = [];
    for (let i = 0; i < 128; i++) if ((i < 59 || i > 68) && lines[i]) outside.push(i);
    expect(outside.length).toBe(22); // 32 - 10 centre lines
    // (128 - 10) / 22 = 5.36 non-centre lines apart: consecutive gaps are 5 or 6 (or span the centre).
    for (let k = 1; k < outside.length; k++) {
      const gap = outside[k]! - outside[k - 1]!;
      if (outside[k - 1]! < 59 && outside[k]! > 68) continue;
      expect([5, 6]).toContain(gap);
    }
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = cartesianMask({ ...base, rng: createRng(11) });
    const b = cartesianMask({ ...base, rng: createRng(11) });
    const c = cartesianMask({ ...base, rng: createRng(12) });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('rejects R < 1, a centre outside [0, 1], and unknown patterns or axes', () => {
    expectUsageError(() => cartesianMask({ ...base, acceleration: 0.5 }), '--acceleration', '0.5');
    expectUsageError(() => cartesianMask({ ...base, acceleration: NaN }), '--acceleration');
    expectUsageError(() => cartesianMask({ ...base, center: -0.1 }), '--center', '-0.1');
    expectUsageError(() => cartesianMask({ ...base, center: 1.5 }), '--center', '1.5');
    expectUsageError(() => cartesianMask({ ...base, pattern: 'poisson' as never }), '--pattern', 'poisson');
    expectUsageError(() => cartesianMask({ ...base, axis: 'z' as never }), '--axis');
    expectUsageError(() => cartesianMask({ ...base, width: 0 }), 'mask width');
  });
});

describe('undersampling', () => {
  it('gives back the image with a full mask', () => {
    const image = sheppLogan(64);
    const full = new Uint8Array(64 * 64).fill(1);
    expect(maxAbsDiff(zeroFilled(image, 64, 64, full), image)).toBeLessThan(1e-5);
  });

  it('zeroes the unsampled k-space entries', () => {
    const image = sheppLogan(32);
    const mask = cartesianMask({ width: 32, height: 32, acceleration: 4, rng: createRng(1) });
    const k = undersample(image, 32, 32, mask);
    const full = kspace(image, 32, 32);
    for (let i = 0; i < mask.length; i++) {
      if (mask[i]) expect(k.re[i]).toBe(full.re[i]);
      else expect(k.re[i] === 0 && k.im[i] === 0).toBe(true);
    }
    // The centred k-space peak is the DC term, the image sum.
    const sum = image.reduce((a, b) => a + b, 0);
    expect(k.re[16 * 32 + 16]).toBeCloseTo(sum, 2);
  });

  it('aliases at R = 4: PSNR of Shepp-Logan drops from infinity to ~17.8 dB, and more as R grows', () => {
    const N = 128;
    const image = sheppLogan(N);
    const full = zeroFilled(image, N, N, new Uint8Array(N * N).fill(1));
    expect(psnr(image, full, 1)).toBeGreaterThan(90);
    const byR = [2, 4, 8].map((R) => {
      const mask = cartesianMask({ width: N, height: N, acceleration: R, center: 0.08, rng: createRng(1) });
      return psnr(image, zeroFilled(image, N, N, mask), 1);
    });
    // Measured: 19.93, 17.80, 16.69 dB.
    expect(byR[0]).toBeCloseTo(19.93, 1);
    expect(byR[1]).toBeCloseTo(17.8, 1);
    expect(byR[2]).toBeCloseTo(16.69, 1);
    expect(byR[0]! - byR[1]!).toBeGreaterThan(1);
    expect(byR[1]! - byR[2]!).toBeGreaterThan(0.5);
  });

  it('puts the aliasing error along the undersampled axis only', () => {
    // A bright disk (radius 6) in the middle of a dark 64x64 field.
    const N = 64;
    const image = new Float32Array(N * N);
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= 36) image[y * N + x] = 1;
    const inBand = (v: number) => Math.abs(v - 32) <= 6;
    for (const axis of ['x', 'y'] as const) {
      const mask = cartesianMask({ width: N, height: N, acceleration: 4, center: 0.08, axis, rng: createRng(3) });
      const zf = zeroFilled(image, N, N, mask);
      let total = 0;
      let sideGhosts = 0; // in the disk's rows, left/right of it
      let verticalGhosts = 0; // in the disk's columns, above/below it
      for (let y = 0; y < N; y++) {
        for (let x = 0; x < N; x++) {
          const e = (zf[y * N + x]! - image[y * N + x]!) ** 2;
          total += e;
          if (inBand(y) && !inBand(x)) sideGhosts += e;
          if (inBand(x) && !inBand(y)) verticalGhosts += e;
        }
      }
      expect(psnr(image, zf)).toBeCloseTo(23.1, 1); // measured 23.10 dB for both axes
      const along = axis === 'x' ? sideGhosts : verticalGhosts;
      const across = axis === 'x' ? verticalGhosts : sideGhosts;
      // Measured: ~47% of the error energy is ghosting along the undersampled axis, ~0 across it.
      expect(along / total).toBeGreaterThan(0.4);
      expect(across / total).toBeLessThan(1e-9);
    }
  });

  it('rejects non-power-of-two images and mismatched masks', () => {
    const mask = new Uint8Array(48 * 48).fill(1);
    expectUsageError(() => zeroFilled(new Float32Array(48 * 48), 48, 48, mask), 'image width', '48');
    expectUsageError(() => zeroFilled(new Float32Array(64 * 64), 64, 64, mask), 'mask', '4096 values');
  });
});

describe('psnr', () => {
  const ramp = Float64Array.from({ length: 101 }, (_, i) => i / 100); // range exactly 1
  const offset = ramp.map((v) => v + 0.1);

  it('is 20 dB for a constant offset of 0.1 on a range of 1', () => {
    expect(psnr(ramp, offset)).toBeCloseTo(20, 9);
    expect(psnr(ramp, offset, 2)).toBeCloseTo(20 + 20 * Math.log10(2), 9); // 26.0206
    expect(psnr(ramp, ramp)).toBe(Infinity);
  });

  it('needs a data range for a constant reference and rejects bad ranges or sizes', () => {
    const flat = new Float32Array(10).fill(0.5);
    expectUsageError(() => psnr(flat, flat.map((v) => v + 0.1)), 'dataRange');
    expect(psnr(flat, flat.map((v) => v + 0.1), 1)).toBeCloseTo(20, 5);
    expectUsageError(() => psnr(ramp, ramp, -1), 'dataRange');
    expectUsageError(() => psnr(ramp, new Float64Array(5)), 'test image');
  });
});

describe('ssim', () => {
  it('uses a normalised 11-tap Gaussian of sigma 1.5', () => {
    const taps = ssimKernel();
    expect(taps.length).toBe(11);
    expect(taps.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(taps[5]! / taps[4]!).toBeCloseTo(Math.exp(1 / 4.5), 12);
  });

  it('is 1 for identical images', () => {
    const image = randomPhantom(48, createRng(3));
    expect(ssim(image, image, 48, 48)).toBeCloseTo(1, 12);
  });

  it('equals (2ab + C1) / (a^2 + b^2 + C1) for constant images a and b', () => {
    const a = new Float32Array(16 * 16).fill(0.3);
    const b = new Float32Array(16 * 16).fill(0.5);
    const C1 = 0.01 ** 2;
    const analytic = (2 * 0.3 * 0.5 + C1) / (0.3 ** 2 + 0.5 ** 2 + C1); // = 0.88238753...
    expect(ssim(a, b, 16, 16, { dataRange: 1 })).toBeCloseTo(analytic, 6);
    expect(analytic).toBeCloseTo(0.8823875, 7); // 0.3001 / 0.3401
  });

  it('matches a skimage-convention reference (scipy gaussian_filter, sigma 1.5, truncate 3.5, 5-pixel crop)', () => {
    // 32 wide, 24 high; values computed with numpy/scipy:
    // ref = 0.5 + 0.4 sin(x/5) cos(y/7); test = ref + 0.1 sin(0.3x + 0.2y) + 0.05 cos(xy/13)
    const W = 32;
    const H = 24;
    const ref = new Float64Array(W * H);
    const test = new Float64Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const r = 0.5 + 0.4 * Math.sin(x / 5) * Math.cos(y / 7);
        ref[y * W + x] = r;
        test[y * W + x] = r + 0.1 * Math.sin(0.3 * x + 0.2 * y) + 0.05 * Math.cos((x * y) / 13);
      }
    }
    expect(ssim(ref, test, W, H, { dataRange: 1 })).toBeCloseTo(0.7476131533211425, 10);
    expect(ssim(ref, test, W, H)).toBeCloseTo(0.737900938189413, 10); // range 0.79966
    expect(psnr(ref, test, 1)).toBeCloseTo(21.700836561289577, 10);
    expect(psnr(ref, test)).toBeCloseTo(19.75892840233131, 10);
  });

  it('decreases monotonically as noise grows', () => {
    const N = 64;
    const image = sheppLogan(N);
    const rng = createRng(8);
    const noise = Float32Array.from({ length: N * N }, () => rng.normal());
    const sigmas = [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4];
    const scores = sigmas.map((s) => ssim(image, image.map((v, i) => v + s * noise[i]!), N, N, { dataRange: 1 }));
    expect(scores[0]).toBeCloseTo(1, 12);
    for (let i = 1; i < scores.length; i++) expect(scores[i]!).toBeLessThan(scores[i - 1]!);
    expect(scores[scores.length - 1]!).toBeLessThan(0.3);
  });

  it('rejects images smaller than the window', () => {
    const tiny = new Float32Array(100);
    expectUsageError(() => ssim(tiny, tiny, 10, 10, { dataRange: 1 }), 'image width', '10');
  });
});

describe('sheppLogan', () => {
  const N = 201; // pixel centres on a 0.01 grid from -1 to 1
  const image = sheppLogan(N);
  const at = (px: number, py: number) => {
    const x = Math.round(100 + px * 100);
    const y = Math.round(100 - py * 100);
    expect(sheppLoganCoordinates(x, y, N, N)[0]).toBeCloseTo(px, 10);
    return image[y * N + x]!;
  };

  it('has the modified (Toft) intensities at known points', () => {
    expect(MODIFIED_SHEPP_LOGAN.length).toBe(10);
    expect(at(0, 0)).toBeCloseTo(0.2, 6); // brain: 1 - 0.8
    expect(at(0, 0.9)).toBeCloseTo(1, 6); // skull, above the brain ellipse (top at 0.8556)
    expect(at(0, -0.9)).toBeCloseTo(1, 6);
    expect(at(0.67, 0)).toBeCloseTo(1, 6); // skull side: 0.6624 < 0.67 < 0.69
    expect(at(0.22, 0)).toBeCloseTo(0, 6); // right dark ellipse: 0.2 - 0.2
    expect(at(-0.22, 0)).toBeCloseTo(0, 6); // left dark ellipse
    expect(at(0, 0.35)).toBeCloseTo(0.3, 6); // upper ellipse: 0.2 + 0.1
    expect(at(0, 0.1)).toBeCloseTo(0.4, 6); // small disk at (0, 0.1) overlaps the upper ellipse
    expect(at(0, -0.1)).toBeCloseTo(0.3, 6);
    expect(at(-0.08, -0.61)).toBeCloseTo(0.3, 6); // the three small bottom ellipses
    expect(at(0, -0.61)).toBeCloseTo(0.3, 6);
    expect(at(0.06, -0.61)).toBeCloseTo(0.3, 6);
    expect(at(0.95, 0.95)).toBe(0); // background
    expect(at(-0.7, 0)).toBe(0); // just outside the skull (a = 0.69)
  });

  it('has the ellipse structure: distinct levels and areas', () => {
    const levels = new Set(Array.from(image, (v) => Math.round(v * 100) / 100));
    expect([...levels].sort()).toEqual([0, 0.1, 0.2, 0.3, 0.4, 1]);
    let skull = 0;
    let nonzero = 0;
    for (const v of image) {
      if (v === 1) skull++;
      if (v > 0) nonzero++;
    }
    // Skull ring area pi (0.69*0.92 - 0.6624*0.874) / 4 = 4.387% of the square (measured 4.25%).
    expect(skull / image.length).toBeCloseTo(0.0439, 2);
    // Head minus the two dark ellipses: pi (0.69*0.92 - 0.11*0.31 - 0.16*0.41) / 4 = 42.03% (measured 41.65%).
    expect(Math.abs(nonzero / image.length - 0.4203)).toBeLessThan(0.006);
    expect(Math.min(...image)).toBe(0);
    expect(Math.max(...image)).toBe(1);
  });

  it('keeps its aspect ratio on non-square images', () => {
    const wide = sheppLogan(64, 32);
    const square = sheppLogan(32);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 64; x++) {
        const expected = x >= 16 && x < 48 ? square[y * 32 + x - 16]! : 0;
        if (wide[y * 64 + x] !== expected) throw new Error(`mismatch at ${x},${y}`);
      }
    }
    expectUsageError(() => sheppLogan(0), 'phantom width');
  });
});

describe('randomPhantom', () => {
  it('is deterministic for a seed, different between seeds, and in [0, 1]', () => {
    const a = randomPhantom(64, createRng(1));
    const b = randomPhantom(64, createRng(1));
    const c = randomPhantom(64, createRng(2));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(maxAbsDiff(a, c)).toBeGreaterThan(0.1);
    for (let seed = 0; seed < 20; seed++) {
      const image = randomPhantom({ width: 64, height: 48 }, createRng(seed));
      expect(image.length).toBe(64 * 48);
      expect(Math.min(...image)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...image)).toBeLessThanOrEqual(1);
      // Dark background in the corners, an object covering a good part of the field.
      expect(image[0]).toBe(0);
      expect(image[64 * 48 - 1]).toBe(0);
      const covered = image.filter((v) => v > 0).length / image.length;
      expect(covered).toBeGreaterThan(0.25);
      expect(covered).toBeLessThan(0.8);
    }
  });

  it('paints rotated squares, rectangles, circles and ellipses, some nested, of varied intensity', () => {
    const kinds = new Set<string>();
    let nested = 0;
    const values = new Set<number>();
    for (let seed = 0; seed < 10; seed++) {
      const shapes = randomPhantomShapes(64, createRng(seed));
      expect(shapes.length).toBeGreaterThanOrEqual(1 + 3);
      for (const s of shapes.slice(1)) {
        kinds.add(`${s.kind}${Math.abs(s.rx - s.ry) < 1e-9 ? '-equal' : ''}`);
        values.add(Math.round(s.value * 10));
      }
      for (let i = 2; i < shapes.length; i++) if (shapes[i]!.rx < shapes[i - 1]!.rx && shapes[i]!.angle === shapes[i - 1]!.angle) nested++;
    }
    expect([...kinds].sort()).toEqual(['ellipse', 'ellipse-equal', 'rectangle', 'rectangle-equal']);
    expect(nested).toBeGreaterThan(3);
    expect(values.size).toBeGreaterThanOrEqual(6);
  });

  it('anti-aliases edges: painted areas match the analytic areas within 0.5%', () => {
    const circle = new Float32Array(64 * 64);
    paintShape(circle, 64, 64, { kind: 'ellipse', cx: 31.3, cy: 30.7, rx: 10, ry: 10, angle: 0, value: 1 });
    expect(Math.abs(circle.reduce((a, b) => a + b, 0) - Math.PI * 100)).toBeLessThan(0.005 * Math.PI * 100);
    const soft = circle.filter((v) => v > 0 && v < 1).length;
    expect(soft).toBeGreaterThan(40); // the rim pixels are partial

    const rect = new Float32Array(64 * 64);
    paintShape(rect, 64, 64, { kind: 'rectangle', cx: 31.3, cy: 30.7, rx: 8, ry: 5, angle: Math.PI / 6, value: 1 });
    expect(Math.abs(rect.reduce((a, b) => a + b, 0) - 160)).toBeLessThan(0.8);

    const hard = randomPhantom(64, createRng(5), { antialias: false });
    const shapes = randomPhantomShapes(64, createRng(5));
    expect(new Set(hard).size).toBeLessThanOrEqual(shapes.length + 1);
    expect(new Set(randomPhantom(64, createRng(5))).size).toBeGreaterThan(shapes.length + 20);
  });

  it('validates its options', () => {
    expectUsageError(() => randomPhantom(64, createRng(1), { minShapes: 5, maxShapes: 2 }), 'maxShapes');
    expectUsageError(() => randomPhantom(-3, createRng(1)), 'phantom width');
  });
});

describe('magnitude', () => {
  it('is the modulus', () => {
    const c: Complex2D = { width: 2, height: 1, re: Float32Array.from([3, 0]), im: Float32Array.from([4, -2]) };
    expect(Array.from(magnitude(c))).toEqual([5, 2]);
  });
});

describe('dataConsistent', () => {
  const size = 32;
  const target = sheppLogan(size);
  const mask = cartesianMask({ width: size, height: size, acceleration: 4, center: 0.08, rng: createRng(3) });
  const measured = undersample(target, size, size, mask);

  it('leaves a perfect reconstruction as it is', () => {
    const out = dataConsistent(target, size, size, measured, mask);
    expect(Math.max(...Array.from(out, (v, i) => Math.abs(v - target[i]!)))).toBeLessThan(1e-5);
  });

  it('puts the measured lines back: a noisy reconstruction gets closer to the target, never further', () => {
    const rng = createRng(9);
    for (const sigma of [0.02, 0.1, 0.3]) {
      const noisy = target.map((v) => v + sigma * (rng.next() - 0.5));
      const out = dataConsistent(noisy, size, size, measured, mask);
      expect(psnr(target, out, 1)).toBeGreaterThan(psnr(target, noisy, 1));
    }
  });

  it('with every line measured returns the measurement itself, whatever the network said', () => {
    const full = new Uint8Array(size * size).fill(1);
    const out = dataConsistent(new Float32Array(size * size), size, size, undersample(target, size, size, full), full);
    expect(Math.max(...Array.from(out, (v, i) => Math.abs(v - target[i]!)))).toBeLessThan(1e-5);
  });
});
