/**
 * Retrospective undersampling: image -> centred k-space -> mask -> zero-filled reconstruction.
 * All k-space here is CENTRED (`fftshift(fft2(image))`, DC at floor(W/2), floor(H/2)), the layout
 * {@link cartesianMask} produces. Sizes must be powers of two (the FFT's requirement).
 */

import { invalidParameterError } from '../errors.js';
import { complexFromReal, fft2, fftshift, ifft2, ifftshift, magnitude, type Complex2D } from './fft.js';

/** A real image (row-major `width * height` values) or a complex one. */
export type ImageInput = ArrayLike<number> | Complex2D;

function isComplex(image: ImageInput): image is Complex2D {
  return typeof image === 'object' && image !== null && 're' in image && 'im' in image && !ArrayBuffer.isView(image);
}

function toComplex(image: ImageInput, width: number, height: number): Complex2D {
  if (!isComplex(image)) return complexFromReal(image, width, height);
  if (image.width !== width || image.height !== height) {
    throw invalidParameterError('image', `a ${width}x${height} image`, `${image.width}x${image.height}`);
  }
  return image;
}

function checkMask(mask: Uint8Array, width: number, height: number): void {
  if (mask.length !== width * height) {
    throw invalidParameterError('mask', `${width * height} values (${width}x${height})`, `${mask.length} values`);
  }
}

/** Fully sampled centred k-space of an image: `fftshift(fft2(image))`. */
export function kspace(image: ImageInput, width: number, height: number): Complex2D {
  return fftshift(fft2(toComplex(image, width, height)));
}

/** Multiplies centred k-space by a mask (1 = keep, 0 = zero). Returns a new complex image. */
export function applyMask(kspaceCentred: Complex2D, mask: Uint8Array): Complex2D {
  const { width, height } = kspaceCentred;
  checkMask(mask, width, height);
  const re = new Float32Array(kspaceCentred.re);
  const im = new Float32Array(kspaceCentred.im);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) {
      re[i] = 0;
      im[i] = 0;
    }
  }
  return { width, height, re, im };
}

/** The undersampled (masked) centred k-space of an image. */
export function undersample(image: ImageInput, width: number, height: number, mask: Uint8Array): Complex2D {
  checkMask(mask, width, height);
  return applyMask(kspace(image, width, height), mask);
}

/** The complex image of centred k-space: `ifft2(ifftshift(k))`. */
export function reconstruct(kspaceCentred: Complex2D): Complex2D {
  return ifft2(ifftshift(kspaceCentred));
}

/**
 * The zero-filled reconstruction, the network's input: the magnitude of the inverse FFT of the
 * masked k-space (unsampled entries left at zero). With a full mask it equals |image|.
 */
export function zeroFilled(image: ImageInput, width: number, height: number, mask: Uint8Array): Float32Array {
  return magnitude(reconstruct(undersample(image, width, height, mask)));
}

/**
 * Data consistency (the step every unrolled MR reconstruction network ends its cascades with): a
 * reconstruction's k-space takes the measured values on the sampled locations and keeps its own elsewhere, so
 * nothing the scanner measured is lost or altered by the network. `measured` is the centred k-space as acquired
 * (zero where not sampled). Returns the magnitude image, the same kind of image as {@link zeroFilled}.
 */
export function dataConsistent(image: ArrayLike<number>, width: number, height: number, measured: Complex2D, mask: Uint8Array): Float32Array {
  checkMask(mask, width, height);
  const k = kspace(image, width, height);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) {
      k.re[i] = measured.re[i]!;
      k.im[i] = measured.im[i]!;
    }
  }
  return magnitude(reconstruct(k));
}
