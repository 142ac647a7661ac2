import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { JobFailure } from '#shared/errors.ts';
import { fitForGemini, GEMINI_INLINE_REQUEST_MAX_BYTES, INLINE_IMAGE_MAX_BYTES } from '#shared/inference/gemini/image.ts';
import { BLUE, twoTone, WHITE } from '../helpers/images.ts';

/** Images as Gemini gets them inline: within the long side and the inline size cap, in a format it reads. */

const maxPixels = 40_000_000;

describe('fitForGemini', () => {
  it('downscales to the long side, keeping the aspect ratio, as JPEG', async () => {
    const fitted = await fitForGemini(await twoTone('png', 4000, 1000, BLUE, WHITE), { maxSide: 1024, maxPixels });
    expect(fitted).toMatchObject({ mimeType: 'image/jpeg', width: 1024, height: 256 });
    expect(await sharp(fitted.data).metadata()).toMatchObject({ format: 'jpeg', width: 1024, height: 256 });
  });

  it('does not enlarge a small image', async () => {
    expect(await fitForGemini(await twoTone('jpeg', 300, 200, BLUE, WHITE), { maxSide: 3072, maxPixels })).toMatchObject({ width: 300, height: 200 });
  });

  it('keeps transparency as PNG', async () => {
    const rgba = await sharp({ create: { width: 50, height: 40, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } }).png().toBuffer();
    const fitted = await fitForGemini(rgba, { maxSide: 3072, maxPixels });
    expect(fitted.mimeType).toBe('image/png');
    expect((await sharp(fitted.data).metadata()).hasAlpha).toBe(true);
  });

  it.each(['gif', 'tiff', 'avif'] as const)('re-encodes %s, which Gemini does not read, as JPEG', async (format) => {
    const fitted = await fitForGemini(await twoTone(format, 64, 64, BLUE, WHITE), { maxSide: 3072, maxPixels });
    expect(fitted.mimeType).toBe('image/jpeg');
  });

  it('applies the EXIF orientation', async () => {
    const rotated = await sharp(await twoTone('jpeg', 400, 200, BLUE, WHITE)).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    expect(await fitForGemini(rotated, { maxSide: 3072, maxPixels })).toMatchObject({ width: 200, height: 400 });
  });

  it('shrinks further until the encoding fits the byte cap', async () => {
    const noise = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    const fitted = await fitForGemini(noise, { maxSide: 1200, maxPixels, maxBytes: 100_000 });
    expect(fitted.data.length).toBeLessThanOrEqual(100_000);
    expect(fitted.width).toBeLessThan(1200);
  });

  it('fails a corrupt image corrupt_image, permanently', async () => {
    const whole = await twoTone('jpeg', 400, 300, BLUE, WHITE);
    const error = await fitForGemini(whole.subarray(0, 200), { maxSide: 3072, maxPixels }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailure);
    expect(error).toMatchObject({ code: 'corrupt_image', permanent: true });
  });

  it('keeps the base64 image within the inline request cap', () => {
    expect(Math.ceil(INLINE_IMAGE_MAX_BYTES / 3) * 4).toBeLessThan(GEMINI_INLINE_REQUEST_MAX_BYTES);
  });
});
