import sharp from 'sharp';
import type { RgbImage } from './image.ts';
import { writePlanes } from './image.ts';
import type { OcrManifest } from './manifest.ts';
import { findTextRegions, type TextRegion, toImageQuad } from './regions.ts';
import { type OcrSession, runSingle } from './session.ts';

/** Text detection: the image scaled to the detector's size, its probability map, and the text boxes in it. */

type DetectionSettings = OcrManifest['detection'];

/** The detector's downsampling stages need sides that are multiples of this. */
export const DETECTION_STRIDE = 32;

/** Scale the longer side down to `sideLimit` (never up), then round both sides to multiples of 32. */
export function detectionSize(width: number, height: number, sideLimit: number): { width: number; height: number } {
  const longer = Math.max(width, height);
  const ratio = longer > sideLimit ? sideLimit / longer : 1;
  const toStride = (side: number) => Math.max(DETECTION_STRIDE, Math.round((side * ratio) / DETECTION_STRIDE) * DETECTION_STRIDE);
  return { width: toStride(width), height: toStride(height) };
}

/** Text boxes in an image, in its pixel coordinates. */
export async function detectText(session: OcrSession, image: RgbImage, settings: DetectionSettings, sideLimit: number): Promise<TextRegion[]> {
  const size = detectionSize(image.width, image.height, sideLimit);
  const resized = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size.width, size.height, { fit: 'fill' })
    .raw()
    .toBuffer();
  const input = new Float32Array(3 * size.width * size.height);
  writePlanes({ data: resized, width: size.width, height: size.height }, settings, input, 0, size.width, size.height);
  const output = await runSingle(session, input, [1, 3, size.height, size.width]);
  const [, , mapHeight = 0, mapWidth = 0] = output.dims;
  if (mapHeight * mapWidth !== output.data.length) throw new Error(`the detector returned a map of shape ${output.dims.join('×')}`);
  const regions = findTextRegions({ data: output.data, width: mapWidth, height: mapHeight }, settings);
  const scaleX = image.width / mapWidth;
  const scaleY = image.height / mapHeight;
  return regions.map((r) => ({ ...r, quad: toImageQuad(r.quad, scaleX, scaleY, image.width, image.height) }));
}
