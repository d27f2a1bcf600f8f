/** Where a layer's feature-map pixel sits in the patient: the input's affine scaled to the layer's stride. */
import type { SliceGeometry } from '../io/image.js';

/**
 * The affine of a map whose pixel (i, j) covers input pixels [i*sx, (i+1)*sx) x [j*sy, (j+1)*sy): its
 * centre is input pixel (i*sx + (sx-1)/2, ...). Channel k sits k slice steps along the slice normal, so
 * a stack of channels is a volume with one channel per slice.
 */
export function scaledGeometry(geometry: SliceGeometry, sx: number, sy: number, channel = 0): SliceGeometry {
  const a = geometry.affine;
  const affine = a.map((row) => row.slice());
  for (let r = 0; r < 3; r++) {
    affine[r]![0] = a[r]![0]! * sx;
    affine[r]![1] = a[r]![1]! * sy;
    affine[r]![3] = a[r]![3]! + a[r]![0]! * ((sx - 1) / 2) + a[r]![1]! * ((sy - 1) / 2) + a[r]![2]! * channel;
  }
  return { affine };
}
