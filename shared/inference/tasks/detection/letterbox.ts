import sharp from 'sharp';
import { decodeFailure, type Tensor, toTensor } from '../../image.ts';
import type { DetectionInput } from './settings.ts';

/**
 * Letterboxing: the image scaled to fit the model input with its aspect kept, centred, the rest
 * padded. The scale and offsets are computed here rather than left to sharp's `contain`, so the
 * boxes the model finds can be mapped back to the original image exactly.
 */

/** Where the original image sits inside the model input. */
export interface Letterbox {
  /** The original (EXIF-oriented) size. */
  sourceWidth: number;
  sourceHeight: number;
  /** Input pixels per original pixel, per axis (they differ by rounding only). */
  scaleX: number;
  scaleY: number;
  /** Padding before the image, in input pixels. */
  padLeft: number;
  padTop: number;
}

/** The fitted size and offsets for a source of `width`×`height` in a `target` input. */
export function letterboxGeometry(
  source: { width: number; height: number },
  target: { width: number; height: number },
): Letterbox & { fittedWidth: number; fittedHeight: number } {
  const scale = Math.min(target.width / source.width, target.height / source.height);
  const fittedWidth = Math.min(target.width, Math.max(1, Math.round(source.width * scale)));
  const fittedHeight = Math.min(target.height, Math.max(1, Math.round(source.height * scale)));
  return {
    sourceWidth: source.width,
    sourceHeight: source.height,
    scaleX: fittedWidth / source.width,
    scaleY: fittedHeight / source.height,
    padLeft: Math.floor((target.width - fittedWidth) / 2),
    padTop: Math.floor((target.height - fittedHeight) / 2),
    fittedWidth,
    fittedHeight,
  };
}

/** Decode, orient, letterbox into packed 8-bit RGB (HWC) of the input's size. */
export async function letterboxRgb(
  bytes: Uint8Array,
  source: { width: number; height: number },
  input: DetectionInput,
  maxPixels: number,
): Promise<{ rgb: Uint8Array; letterbox: Letterbox }> {
  const { fittedWidth, fittedHeight, ...letterbox } = letterboxGeometry(source, input);
  const [r, g, b] = input.padColor;
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', autoOrient: true })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(fittedWidth, fittedHeight, { fit: 'fill' })
      .extend({
        top: letterbox.padTop,
        bottom: input.height - fittedHeight - letterbox.padTop,
        left: letterbox.padLeft,
        right: input.width - fittedWidth - letterbox.padLeft,
        background: { r, g, b },
      })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== input.width || info.height !== input.height) {
      throw new Error(`unexpected letterboxed shape ${info.width}×${info.height}×${info.channels}`);
    }
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), letterbox };
  } catch (error) {
    throw decodeFailure(error, maxPixels);
  }
}

/** The model's input tensor and the letterbox that produced it. */
export async function letterboxTensor(
  bytes: Uint8Array,
  source: { width: number; height: number },
  input: DetectionInput,
  maxPixels: number,
): Promise<{ tensor: Tensor; letterbox: Letterbox }> {
  const { rgb, letterbox } = await letterboxRgb(bytes, source, input, maxPixels);
  return { tensor: toTensor(rgb, input), letterbox };
}
