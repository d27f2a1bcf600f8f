/** MRI helpers for simulating the network's task (undersampled acquisitions, see docs/ARCHITECTURE.md "The model"): phantoms, 2-D FFT, Cartesian undersampling, zero-filling, PSNR/SSIM. */

export { createRng, type Rng } from '../random.js';
export {
  complexFromReal,
  fft2,
  fftshift,
  ifft2,
  ifftshift,
  isPowerOfTwo,
  magnitude,
  type Complex2D,
  type ShiftableArray,
} from './fft.js';
export {
  MASK_AXES,
  MASK_PATTERNS,
  cartesianLines,
  cartesianMask,
  centerLineRange,
  samplingFraction,
  type CartesianMaskOptions,
  type MaskAxis,
  type MaskPattern,
} from './mask.js';
export { applyMask, dataConsistent, kspace, reconstruct, undersample, zeroFilled, type ImageInput } from './undersample.js';
export {
  SSIM_K1,
  SSIM_K2,
  SSIM_SIGMA,
  SSIM_WINDOW,
  mse,
  psnr,
  ssim,
  ssimKernel,
  ssimMap,
  type SsimOptions,
} from './metrics.js';
export {
  MODIFIED_SHEPP_LOGAN,
  paintShape,
  randomPhantom,
  randomPhantomShapes,
  sheppLogan,
  sheppLoganCoordinates,
  type PhantomSize,
  type RandomPhantomOptions,
  type Shape,
  type ShapeKind,
} from './phantom.js';
