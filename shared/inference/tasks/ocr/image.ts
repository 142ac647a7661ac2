/** Packed 8-bit RGB pixels (HWC) and their conversion into a network's normalised planes. */

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** Plane order of the network input; mean/std are listed in this order. */
  channelOrder: 'RGB' | 'BGR';
}

/**
 * Write an image into slot `index` of an NCHW float32 batch whose planes are `planeWidth` ×
 * `planeHeight`: x = (pixel / 255 − mean) / std per plane. The image sits at the top-left; the rest
 * of the slot keeps its zeros (the normalised padding the recogniser was trained with).
 */
export function writePlanes(image: RgbImage, norm: Normalization, batch: Float32Array, index: number, planeWidth: number, planeHeight: number): void {
  const { data, width, height } = image;
  const planeSize = planeWidth * planeHeight;
  for (let plane = 0; plane < 3; plane++) {
    const source = norm.channelOrder === 'RGB' ? plane : 2 - plane;
    const scale = 1 / (255 * norm.std[plane]!);
    const offset = -norm.mean[plane]! / norm.std[plane]!;
    const base = (index * 3 + plane) * planeSize;
    const rows = Math.min(height, planeHeight);
    const cols = Math.min(width, planeWidth);
    for (let y = 0; y < rows; y++) {
      const to = base + y * planeWidth;
      const from = y * width * 3 + source;
      for (let x = 0; x < cols; x++) batch[to + x] = data[from + x * 3]! * scale + offset;
    }
  }
}

/** The same image turned half a turn. */
export function rotate180(image: RgbImage): RgbImage {
  const { data, width, height } = image;
  const out = new Uint8Array(data.length);
  const pixels = width * height;
  for (let p = 0; p < pixels; p++) {
    const q = (pixels - 1 - p) * 3;
    out[q] = data[p * 3]!;
    out[q + 1] = data[p * 3 + 1]!;
    out[q + 2] = data[p * 3 + 2]!;
  }
  return { data: out, width, height };
}
