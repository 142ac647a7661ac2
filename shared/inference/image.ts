import sharp, { type FitEnum, type Metadata } from 'sharp';
import { JobFailure } from '../errors.ts';
import { detectImageFormat, type ImageFormat } from './formats.ts';
import type { FittedInput } from './tasks/classification/settings.ts';

/**
 * From uploaded bytes to a model's input tensor: check what the bytes really are, decode once with
 * sharp (EXIF auto-orientation, a pixel limit against decompression bombs), fit to the model's
 * size, normalise into float32.
 */

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
}

export interface Tensor {
  data: Float32Array;
  dims: [number, number, number, number];
}

type InputSpec = FittedInput;

// libvips caches decoded images by default; a worker sees each image once, so the cache only costs memory.
sharp.cache(false);

/** Validate uploaded bytes as an accepted image within the pixel limit, from its header only. */
export async function inspectImage(bytes: Uint8Array, maxPixels: number): Promise<ImageInfo> {
  const format = detectImageFormat(bytes);
  if (!format) {
    throw JobFailure.permanent('unsupported_media', 'the upload is not a JPEG, PNG, WebP, GIF, TIFF or AVIF image');
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: maxPixels }).metadata();
  } catch (error) {
    throw decodeFailure(error, maxPixels);
  }
  const { width, height } = metadata;
  if (!width || !height) throw JobFailure.permanent('corrupt_image', `the ${format} header has no dimensions`);
  // EXIF orientations 5–8 swap the axes; report what the viewer sees.
  const rotated = (metadata.orientation ?? 1) >= 5;
  const info = { format, width: rotated ? height : width, height: rotated ? width : height };
  if (width * height > maxPixels) {
    throw JobFailure.permanent(
      'image_too_large',
      `the image is ${info.width}×${info.height} (${width * height} pixels); the limit is ${maxPixels} pixels`,
    );
  }
  return info;
}

/** A decode error as the job's failure: over the pixel limit, or an image that cannot be read. */
export function decodeFailure(error: unknown, maxPixels: number): JobFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return JobFailure.permanent('image_too_large', `the image exceeds the limit of ${maxPixels} pixels`, error);
  }
  return JobFailure.permanent('corrupt_image', `the image could not be decoded: ${message}`, error);
}

const FIT: Record<InputSpec['resize'], keyof FitEnum> = { fill: 'fill', cover: 'cover', contain: 'contain' };

/** Decode, orient and fit an image to the model's input size as packed 8-bit RGB (HWC). */
export async function decodeToRgb(bytes: Uint8Array, input: InputSpec, maxPixels: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', autoOrient: true })
      .resize(input.width, input.height, { fit: FIT[input.resize], background: { r: 0, g: 0, b: 0 } })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== input.width || info.height !== input.height) {
      throw new Error(`unexpected decoded shape ${info.width}×${info.height}×${info.channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (error) {
    throw decodeFailure(error, maxPixels);
  }
}

/**
 * Packed RGB bytes (HWC) to a normalised float32 tensor: x = (pixel / 255 − mean[c]) / std[c],
 * laid out NCHW or NHWC. One multiply-add per value with per-channel constants.
 */
export function toTensor(rgb: Uint8Array, input: Pick<InputSpec, 'width' | 'height' | 'layout' | 'mean' | 'std'>): Tensor {
  const { width, height, layout, mean, std } = input;
  const pixels = width * height;
  if (rgb.length !== pixels * 3) throw new Error(`expected ${pixels * 3} bytes of RGB, got ${rgb.length}`);
  const scale = std.map((s) => 1 / (255 * s));
  const offset = mean.map((m, c) => -m / std[c]!);
  const data = new Float32Array(pixels * 3);
  if (layout === 'NHWC') {
    for (let i = 0; i < pixels * 3; i++) {
      const c = i % 3;
      data[i] = rgb[i]! * scale[c]! + offset[c]!;
    }
    return { data, dims: [1, height, width, 3] };
  }
  for (let c = 0; c < 3; c++) {
    const plane = c * pixels;
    const s = scale[c]!;
    const o = offset[c]!;
    for (let p = 0; p < pixels; p++) data[plane + p] = rgb[p * 3 + c]! * s + o;
  }
  return { data, dims: [1, 3, height, width] };
}
