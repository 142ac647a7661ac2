import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { letterboxGeometry, letterboxRgb } from '#shared/inference/tasks/detection/letterbox.ts';
import { MAX_OBJECTS_LIMIT, paramsSchema, settingsSchema } from '#shared/inference/tasks/detection/index.ts';

const MAX_PIXELS = 40_000_000;
const INPUT = { name: 'images', layout: 'NCHW' as const, width: 320, height: 320, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };

describe('letterbox geometry', () => {
  it('fits a landscape photo to the width and centres it vertically', () => {
    expect(letterboxGeometry({ width: 640, height: 480 }, INPUT)).toEqual({
      sourceWidth: 640,
      sourceHeight: 480,
      scaleX: 0.5,
      scaleY: 0.5,
      padLeft: 0,
      padTop: 40,
      fittedWidth: 320,
      fittedHeight: 240,
    });
  });

  it('fits a portrait photo to the height and centres it horizontally', () => {
    expect(letterboxGeometry({ width: 300, height: 600 }, INPUT)).toMatchObject({ padLeft: 80, padTop: 0, fittedWidth: 160, fittedHeight: 320 });
  });

  it('enlarges a small photo, keeping its aspect', () => {
    expect(letterboxGeometry({ width: 100, height: 50 }, INPUT)).toMatchObject({ scaleX: 3.2, scaleY: 3.2, padTop: 80, fittedHeight: 160 });
  });
});

describe('letterboxing a photo with sharp', () => {
  it('puts the photo where the geometry says and pads the rest with the manifest colour', async () => {
    const red = { r: 220, g: 20, b: 20 };
    const bytes = await sharp({ create: { width: 300, height: 600, channels: 3, background: red } }).png().toBuffer();
    const { rgb, letterbox } = await letterboxRgb(bytes, { width: 300, height: 600 }, { ...INPUT, padColor: [114, 114, 114] }, MAX_PIXELS);
    const pixel = (x: number, y: number) => Array.from(rgb.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3));
    expect(letterbox).toMatchObject({ padLeft: 80, padTop: 0 });
    for (const y of [0, 160, 319]) {
      expect(pixel(79, y)).toEqual([114, 114, 114]);
      expect(pixel(80, y)).toEqual([220, 20, 20]);
      expect(pixel(239, y)).toEqual([220, 20, 20]);
      expect(pixel(240, y)).toEqual([114, 114, 114]);
    }
  });

  it('letterboxes the photo as the viewer sees it (EXIF orientation applied)', async () => {
    // Stored 600×300, EXIF 6 (rotate 90°): seen as 300×600, so padded left and right.
    const bytes = await sharp({ create: { width: 600, height: 300, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const { rgb } = await letterboxRgb(bytes, { width: 300, height: 600 }, { ...INPUT, padColor: [0, 0, 0] }, MAX_PIXELS);
    const at = (x: number) => rgb[(160 * 320 + x) * 3 + 2]!;
    expect(at(40)).toBe(0);
    expect(at(160)).toBeGreaterThan(200);
  });
});

describe('detection manifest settings and params', () => {
  it('fills the defaults: grey 114 padding, cxcywh pixel boxes, 0.25 / 0.45 / 100', () => {
    const settings = settingsSchema.parse({
      task: 'detection',
      input: { name: 'images', layout: 'NCHW', width: 640, height: 640 },
      output: { format: 'yolo', name: 'output0', layout: 'per-attribute', objectness: false },
      labels: ['person'],
    });
    expect(settings).toMatchObject({
      input: { padColor: [114, 114, 114], mean: [0, 0, 0], std: [1, 1, 1] },
      output: { box: 'cxcywh', coordinates: 'pixels', activation: 'none' },
      minScore: 0.25,
      iouThreshold: 0.45,
      maxObjects: 100,
    });
  });

  it('refuses a misspelt output field, naming it', () => {
    const result = settingsSchema.safeParse({
      task: 'detection',
      input: { name: 'images', layout: 'NCHW', width: 640, height: 640 },
      output: { format: 'yolo', name: 'output0', layout: 'per-attribute', objectnes: false },
      labels: ['person'],
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('objectnes');
  });

  it('takes minScore, iouThreshold and maxObjects in range, and nothing else', () => {
    expect(paramsSchema.parse({ minScore: 0.5, iouThreshold: 0.3, maxObjects: MAX_OBJECTS_LIMIT })).toEqual({
      minScore: 0.5,
      iouThreshold: 0.3,
      maxObjects: MAX_OBJECTS_LIMIT,
    });
    expect(paramsSchema.safeParse({ topK: 5 }).success).toBe(false);
    expect(paramsSchema.safeParse({ maxObjects: MAX_OBJECTS_LIMIT + 1 }).success).toBe(false);
    expect(paramsSchema.safeParse({ minScore: 1.5 }).success).toBe(false);
  });
});
