import sharp, { type OutputInfo } from 'sharp';
import { JobFailure } from '../../errors.ts';

/**
 * An accepted upload as an image Gemini takes inline: oriented, downscaled to a long side, and
 * re-encoded as JPEG (PNG when it has transparency). Re-encoding also turns GIF, TIFF and AVIF,
 * which Gemini does not read, into formats it does.
 */

/** Gemini's cap on a whole inline request (image base64-encoded, prompt and schema included). */
export const GEMINI_INLINE_REQUEST_MAX_BYTES = 20 * 1024 * 1024;
/** The encoded image's share of that request: base64 makes it 4/3 larger, and the rest is headroom for the text. */
export const INLINE_IMAGE_MAX_BYTES = 14 * 1024 * 1024;
/** JPEG quality for re-encoding: visually lossless for analysis, far smaller than PNG for photos. */
export const JPEG_QUALITY = 90;
/** Each re-encode over INLINE_IMAGE_MAX_BYTES shrinks the long side by this factor, at most FIT_ATTEMPTS times. */
const SHRINK_FACTOR = 0.75;
const FIT_ATTEMPTS = 6;

export interface InlineImage {
  data: Buffer;
  mimeType: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
}

export interface FitOptions {
  /** The long side, px; smaller images are not enlarged. */
  maxSide: number;
  /** Decoded-pixel limit (decompression-bomb guard). */
  maxPixels: number;
  maxBytes?: number;
}

export async function fitForGemini(bytes: Uint8Array, options: FitOptions): Promise<InlineImage> {
  const maxBytes = options.maxBytes ?? INLINE_IMAGE_MAX_BYTES;
  let pixels: Buffer;
  let info: OutputInfo;
  try {
    // One decode of the upload, to sRGB pixels at the long side; re-encodes below start from these.
    ({ data: pixels, info } = await sharp(bytes, { limitInputPixels: options.maxPixels, failOn: 'truncated', autoOrient: true })
      .resize(options.maxSide, options.maxSide, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true }));
  } catch (error) {
    throw JobFailure.permanent('corrupt_image', `the image could not be decoded: ${(error as Error).message}`, error);
  }
  const raw = { width: info.width, height: info.height, channels: info.channels as 3 | 4 };
  // An alpha channel that is opaque everywhere (common after editing) is dropped: JPEG is far smaller.
  const transparent = info.channels === 4 && hasTransparency(pixels);
  let side = Math.max(info.width, info.height);
  for (let attempt = 1; attempt <= FIT_ATTEMPTS; attempt++) {
    const image = sharp(pixels, { raw }).resize(side, side, { fit: 'inside', withoutEnlargement: true });
    const encoded = transparent ? image.png() : image.removeAlpha().jpeg({ quality: JPEG_QUALITY });
    const { data, info: out } = await encoded.toBuffer({ resolveWithObject: true });
    if (data.length <= maxBytes) {
      return { data, mimeType: transparent ? 'image/png' : 'image/jpeg', width: out.width, height: out.height };
    }
    side = Math.floor(Math.max(out.width, out.height) * SHRINK_FACTOR);
  }
  throw JobFailure.permanent('image_too_large', `the image does not fit in ${maxBytes} bytes even when downscaled`);
}

/** Whether any pixel of packed RGBA is less than opaque. */
function hasTransparency(rgba: Buffer): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i]! < 255) return true;
  return false;
}
