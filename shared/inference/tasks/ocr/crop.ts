import { type Quad, quadSize } from './geometry.ts';
import type { RgbImage } from './image.ts';

/**
 * Cut a text box out of the image as an upright strip of the recogniser's height: each output
 * pixel is mapped into the quad (bilinear interpolation of its corners, exact for the
 * parallelograms detection gives) and sampled bilinearly, averaging several samples per pixel
 * where the strip is smaller than the text, so large text is smoothed rather than aliased.
 */

/** Boxes at least this much taller than wide hold vertical text: read them turned a quarter. */
export const VERTICAL_TEXT_ASPECT = 1.5;
/** Samples per output pixel along each axis, at most, when shrinking. */
const MAX_SUPERSAMPLING = 4;

/** Bilinear sample of one channel-interleaved pixel; coordinates are continuous (pixel k spans [k, k+1)). */
function sample(image: RgbImage, x: number, y: number, out: Float64Array): void {
  const { data, width, height } = image;
  const fx = Math.min(Math.max(x - 0.5, 0), width - 1);
  const fy = Math.min(Math.max(y - 0.5, 0), height - 1);
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const ax = fx - x0;
  const ay = fy - y0;
  const i00 = (y0 * width + x0) * 3, i10 = (y0 * width + x1) * 3, i01 = (y1 * width + x0) * 3, i11 = (y1 * width + x1) * 3;
  for (let c = 0; c < 3; c++) {
    const top = data[i00 + c]! * (1 - ax) + data[i10 + c]! * ax;
    const bottom = data[i01 + c]! * (1 - ax) + data[i11 + c]! * ax;
    out[c] = out[c]! + top * (1 - ay) + bottom * ay;
  }
}

/** Corners relabelled so vertical text reads left to right (the strip turned a quarter anticlockwise). */
function upright(quad: Quad): Quad {
  const { width, height } = quadSize(quad);
  if (height < width * VERTICAL_TEXT_ASPECT) return quad;
  const [tl, tr, br, bl] = quad;
  return [tr, br, bl, tl];
}

/** The box as a strip `height` pixels tall, as wide as keeps its aspect ratio (at most `maxWidth`). */
export function cropLine(image: RgbImage, box: Quad, height: number, maxWidth: number): RgbImage {
  const quad = upright(box);
  const size = quadSize(quad);
  const sourceHeight = Math.max(size.height, 1);
  const width = Math.min(maxWidth, Math.max(1, Math.ceil((size.width * height) / sourceHeight)));
  const [tl, tr, br, bl] = quad;
  const samplesX = Math.min(MAX_SUPERSAMPLING, Math.max(1, Math.ceil(size.width / width)));
  const samplesY = Math.min(MAX_SUPERSAMPLING, Math.max(1, Math.ceil(size.height / height)));
  const weight = 1 / (samplesX * samplesY);
  const data = new Uint8Array(width * height * 3);
  const acc = new Float64Array(3);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      acc.fill(0);
      for (let sy = 0; sy < samplesY; sy++) {
        const v = (row + (sy + 0.5) / samplesY) / height;
        for (let sx = 0; sx < samplesX; sx++) {
          const u = (col + (sx + 0.5) / samplesX) / width;
          const a = (1 - u) * (1 - v), b = u * (1 - v), c = u * v, d = (1 - u) * v;
          sample(image, a * tl[0] + b * tr[0] + c * br[0] + d * bl[0], a * tl[1] + b * tr[1] + c * br[1] + d * bl[1], acc);
        }
      }
      const at = (row * width + col) * 3;
      for (let ch = 0; ch < 3; ch++) data[at + ch] = Math.round(acc[ch]! * weight);
    }
  }
  return { data, width, height };
}
