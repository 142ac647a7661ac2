import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { JobFailure } from '#shared/errors.ts';
import type { ClassificationManifest } from '#shared/inference/onnx/manifest.ts';
import { decodeToRgb, inspectImage, toTensor } from '#shared/inference/image.ts';
import { seededRandom } from '../../scripts/lib/seeded-random.ts';

type Input = ClassificationManifest['input'];
type Rgb = readonly [number, number, number];

const IMAGENET_MEAN: Rgb = [0.485, 0.456, 0.406];
const IMAGENET_STD: Rgb = [0.229, 0.224, 0.225];
const MAX_PIXELS = 40_000_000;


function randomRgb(width: number, height: number, seed: number): Uint8Array {
  const next = seededRandom(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => Math.floor(next() * 256));
}

/** The obvious implementation: visit every (y, x, c) and write (p/255 − mean)/std where the layout says. */
function referenceTensor(rgb: Uint8Array, width: number, height: number, layout: 'NCHW' | 'NHWC', mean: Rgb, std: Rgb) {
  const out = new Float64Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const p = rgb[(y * width + x) * 3 + c]!;
        const value = (p / 255 - mean[c]!) / std[c]!;
        const index = layout === 'NCHW' ? c * height * width + y * width + x : (y * width + x) * 3 + c;
        out[index] = value;
      }
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const inputSpec = (width: number, height: number, overrides: Partial<Input> = {}): Input => ({
  name: 'image',
  layout: 'NCHW',
  width,
  height,
  resize: 'fill',
  mean: [0, 0, 0],
  std: [1, 1, 1],
  ...overrides,
});

/** The JobFailure a promise rejects with (fails the test if it resolves or throws something else). */
async function failureOf(promise: Promise<unknown>): Promise<JobFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobFailure);
  return error as JobFailure;
}

/** The RGB triple at (x, y) of packed HWC bytes. */
const pixelAt = (rgb: Uint8Array, width: number, x: number, y: number) => Array.from(rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));

const near = (actual: number[], expected: Rgb, tolerance: number) =>
  actual.every((v, c) => Math.abs(v - expected[c]!) <= tolerance);

describe('toTensor', () => {
  const cases = [
    { layout: 'NCHW', width: 17, height: 11, seed: 1 },
    { layout: 'NHWC', width: 17, height: 11, seed: 2 },
    { layout: 'NCHW', width: 32, height: 32, seed: 3 },
    { layout: 'NHWC', width: 5, height: 29, seed: 4 },
  ] as const;

  for (const { layout, width, height, seed } of cases) {
    it(`matches the reference for ${layout} ${width}×${height} with ImageNet mean/std`, () => {
      const rgb = randomRgb(width, height, seed);
      const tensor = toTensor(rgb, { width, height, layout, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] });
      expect(maxAbsDiff(tensor.data, referenceTensor(rgb, width, height, layout, IMAGENET_MEAN, IMAGENET_STD))).toBeLessThan(1e-6);
    });
  }

  it('reports NCHW dims as [1, 3, height, width] and NHWC dims as [1, height, width, 3]', () => {
    const rgb = randomRgb(7, 3, 5);
    const spec = { width: 7, height: 3, mean: [0, 0, 0] as Input['mean'], std: [1, 1, 1] as Input['std'] };
    expect(toTensor(rgb, { ...spec, layout: 'NCHW' }).dims).toEqual([1, 3, 3, 7]);
    expect(toTensor(rgb, { ...spec, layout: 'NHWC' }).dims).toEqual([1, 3, 7, 3]);
  });

  it('maps 0 to 0 and 255 to 1 with mean 0 and std 1', () => {
    const rgb = Uint8Array.from([0, 255, 0, 255, 0, 255]);
    const { data } = toTensor(rgb, { width: 2, height: 1, layout: 'NHWC', mean: [0, 0, 0], std: [1, 1, 1] });
    expect(Array.from(data)).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('keeps a per-channel mean and std on its own channel', () => {
    // Differing constants per channel: a mix-up of channels would show.
    const mean: Rgb = [0.1, 0.5, 0.9];
    const std: Rgb = [0.5, 0.25, 2];
    const rgb = randomRgb(9, 4, 6);
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const tensor = toTensor(rgb, { width: 9, height: 4, layout, mean: [...mean], std: [...std] });
      expect(maxAbsDiff(tensor.data, referenceTensor(rgb, 9, 4, layout, mean, std)), layout).toBeLessThan(1e-6);
    }
  });

  it('throws for RGB bytes of the wrong length', () => {
    const spec = { width: 4, height: 4, layout: 'NCHW' as const, mean: [0, 0, 0] as Input['mean'], std: [1, 1, 1] as Input['std'] };
    expect(() => toTensor(new Uint8Array(4 * 4 * 3 - 1), spec)).toThrow();
    expect(() => toTensor(new Uint8Array(4 * 4 * 4), spec)).toThrow();
    expect(() => toTensor(new Uint8Array(0), spec)).toThrow();
  });
});

describe('decodeToRgb and inspectImage with sharp', () => {
  const TEAL: Rgb = [30, 160, 140];
  let solidPng: Buffer;
  let orientedJpeg: Buffer;
  let plainJpeg: Buffer;

  beforeAll(async () => {
    solidPng = await sharp({ create: { width: 50, height: 30, channels: 3, background: { r: TEAL[0], g: TEAL[1], b: TEAL[2] } } })
      .png()
      .toBuffer();

    // Stored 40×20: left half red, right half blue.
    const width = 40;
    const height = 20;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        raw.set(x < width / 2 ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
      }
    }
    const stored = sharp(raw, { raw: { width, height, channels: 3 } });
    orientedJpeg = await stored.clone().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    plainJpeg = await stored.clone().jpeg({ quality: 95 }).toBuffer();
  });

  it('writes the test JPEG with EXIF orientation 6 (the fixture itself is right)', async () => {
    const metadata = await sharp(orientedJpeg).metadata();
    expect(metadata.orientation).toBe(6);
    expect([metadata.width, metadata.height]).toEqual([40, 20]);
  });

  it('decodes a solid-colour PNG to that colour at the manifest size', async () => {
    const input = inputSpec(8, 6);
    const rgb = await decodeToRgb(solidPng, input, MAX_PIXELS);
    expect(rgb.length).toBe(8 * 6 * 3);
    for (let i = 0; i < rgb.length; i += 3) expect(Array.from(rgb.subarray(i, i + 3))).toEqual([...TEAL]);
  });

  it('decodes to the manifest size whatever the fit', async () => {
    for (const resize of ['fill', 'cover', 'contain'] as const) {
      const rgb = await decodeToRgb(solidPng, inputSpec(13, 21, { resize }), MAX_PIXELS);
      expect(rgb.length, resize).toBe(13 * 21 * 3);
    }
  });

  it('letterboxes in black for contain', async () => {
    // 50×30 into 30×30: the image fills 30×18 in the middle, bars above and below.
    const rgb = await decodeToRgb(solidPng, inputSpec(30, 30, { resize: 'contain' }), MAX_PIXELS);
    expect(pixelAt(rgb, 30, 15, 0)).toEqual([0, 0, 0]);
    expect(pixelAt(rgb, 30, 15, 29)).toEqual([0, 0, 0]);
    expect(pixelAt(rgb, 30, 15, 15)).toEqual([...TEAL]);
  });

  it('reports an EXIF-orientation-6 JPEG stored 40×20 as the 20×40 a viewer sees', async () => {
    expect(await inspectImage(orientedJpeg, MAX_PIXELS)).toEqual({ format: 'jpeg', width: 20, height: 40 });
    expect(await inspectImage(plainJpeg, MAX_PIXELS)).toEqual({ format: 'jpeg', width: 40, height: 20 });
  });

  it('decodes an EXIF-orientation-6 JPEG upright: the stored left half (red) ends up on top', async () => {
    // Orientation 6 means "rotate 90° clockwise to display": the stored left edge becomes the top.
    const rgb = await decodeToRgb(orientedJpeg, inputSpec(20, 40), MAX_PIXELS);
    const RED: Rgb = [255, 0, 0];
    const BLUE: Rgb = [0, 0, 255];
    for (const x of [3, 10, 16]) {
      expect(near(pixelAt(rgb, 20, x, 8), RED, 40), `top at x=${x}: ${pixelAt(rgb, 20, x, 8)}`).toBe(true);
      expect(near(pixelAt(rgb, 20, x, 31), BLUE, 40), `bottom at x=${x}: ${pixelAt(rgb, 20, x, 31)}`).toBe(true);
    }
  });

  it('decodes the same JPEG without the orientation tag as stored: red left, blue right', async () => {
    // The control for the test above: the same 20×40 fill without EXIF stretches red over the left half.
    const rgb = await decodeToRgb(plainJpeg, inputSpec(20, 40), MAX_PIXELS);
    expect(near(pixelAt(rgb, 20, 3, 8), [255, 0, 0], 40)).toBe(true);
    expect(near(pixelAt(rgb, 20, 16, 8), [0, 0, 255], 40)).toBe(true);
  });

  it('decodes 16-bit, greyscale, grey-with-alpha and palette PNGs, 16-bit TIFF and CMYK JPEG to 8-bit RGB', async () => {
    const colour = { r: 51, g: 102, b: 153 };
    const create = (channels: 3 | 4) => sharp({ create: { width: 10, height: 10, channels, background: { ...colour, alpha: 1 } } });
    const cases: [string, Buffer, Rgb, number][] = [
      ['16-bit PNG', await create(3).toColourspace('rgb16').png().toBuffer(), [51, 102, 153], 2],
      ['16-bit TIFF', await create(3).toColourspace('rgb16').tiff().toBuffer(), [51, 102, 153], 2],
      ['single-channel grey PNG', await sharp({ create: { width: 10, height: 10, channels: 3, background: '#777777' } }).toColourspace('b-w').png().toBuffer(), [119, 119, 119], 2],
      ['grey-with-alpha PNG', await create(4).toColourspace('b-w').png().toBuffer(), [92, 92, 92], 12],
      ['palette PNG', await create(4).png({ palette: true }).toBuffer(), [51, 102, 153], 6],
      ['CMYK JPEG', await create(3).toColourspace('cmyk').jpeg().toBuffer(), [51, 102, 153], 30],
    ];
    for (const [name, bytes, expected, tolerance] of cases) {
      const rgb = await decodeToRgb(bytes, inputSpec(8, 8), MAX_PIXELS);
      expect(rgb.length, name).toBe(8 * 8 * 3);
      expect(near(pixelAt(rgb, 8, 4, 4), expected, tolerance), `${name}: ${pixelAt(rgb, 8, 4, 4)}`).toBe(true);
    }
  });

  it('inspects a PNG as png with its size', async () => {
    expect(await inspectImage(solidPng, MAX_PIXELS)).toEqual({ format: 'png', width: 50, height: 30 });
  });

  it('fails bytes that are not an image as unsupported_media, permanently', async () => {
    const text = new TextEncoder().encode('this is certainly not an image, just some text');
    const failure = await failureOf(inspectImage(text, MAX_PIXELS));
    expect(failure.code).toBe('unsupported_media');
    expect(failure.permanent).toBe(true);
  });

  it('fails a truncated JPEG (its first 60%) as corrupt_image when decoding, permanently', async () => {
    const photo = await sharp(randomRgb(256, 256, 7), { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const truncated = photo.subarray(0, Math.floor(photo.length * 0.6));
    const failure = await failureOf(decodeToRgb(truncated, inputSpec(16, 16), MAX_PIXELS));
    expect(failure.code).toBe('corrupt_image');
    expect(failure.permanent).toBe(true);
    // The control: the whole JPEG decodes.
    await expect(decodeToRgb(photo, inputSpec(16, 16), MAX_PIXELS)).resolves.toHaveLength(16 * 16 * 3);
  });

  it('fails a PNG over the pixel limit as image_too_large from its header, permanently', async () => {
    const big = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#808080' } }).png().toBuffer();
    const failure = await failureOf(inspectImage(big, 1_000_000));
    expect(failure.code).toBe('image_too_large');
    expect(failure.permanent).toBe(true);
    // The same image is fine under a limit it fits.
    await expect(inspectImage(big, 9_000_000)).resolves.toEqual({ format: 'png', width: 3000, height: 3000 });
  });

  it('fails decoding over the pixel limit as image_too_large too, permanently', async () => {
    const failure = await failureOf(decodeToRgb(solidPng, inputSpec(8, 8), 50 * 30 - 1));
    expect(failure.code).toBe('image_too_large');
    expect(failure.permanent).toBe(true);
  });
});
