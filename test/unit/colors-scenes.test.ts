import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { inferOnnx } from '#shared/inference/onnx/infer.ts';
import { ManifestSchema } from '#shared/inference/onnx/manifest.ts';
import type { ClassificationResult } from '#shared/inference/tasks/classification/result.ts';
import { seededRandom } from '../../scripts/lib/seeded-random.ts';
import manifestJson from '../../models/colors.json' with { type: 'json' };

/**
 * Scene colours are deliberately none of the model's prototypes (scripts/models/colors.ts), so the
 * test checks naming between prototypes, not a lookup.
 *
 * The committed colours model on rendered photographs-in-miniature, through the worker's own path
 * (sharp decode and resize, tensor, onnxruntime, top-k): each scene has a colour a person would name
 * without hesitation, and the model must name it first.
 */

type Rgb = readonly [number, number, number];
const WIDTH = 320;
const HEIGHT = 240;
const MAX_PIXELS = 40_000_000;

/** A JPEG whose pixel (x, y) is `paint(x, y, random)`, with ±`noise` per channel of sensor-like grain. */
async function render(paint: (x: number, y: number, random: () => number) => Rgb, seed: number, noise = 12): Promise<Buffer> {
  const random = seededRandom(seed);
  const raw = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const rgb = paint(x, y, random);
      for (let c = 0; c < 3; c++) {
        const grain = (random() * 2 - 1) * noise;
        raw[(y * WIDTH + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(rgb[c]! + grain)));
      }
    }
  }
  return sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

const mix = (a: Rgb, b: Rgb, t: number): Rgb => [0, 1, 2].map((c) => a[c]! + (b[c]! - a[c]!) * t) as unknown as Rgb;

/** Grass blades: olive, yellow-green, deep and sunlit greens in vertical streaks, with a ladybird. */
const GRASS: readonly Rgb[] = [
  [112, 138, 42],
  [118, 132, 60],
  [92, 118, 50],
  [65, 95, 38],
  [130, 148, 75],
  [78, 104, 44],
];
const meadow = (x: number, y: number): Rgb => {
  const dx = x - 200;
  const dy = y - 90;
  if (dx * dx + dy * dy < 14 * 14) return [200, 30, 25];
  return GRASS[Math.floor((x * 7 + Math.floor(y / 40) * 13) / 9) % GRASS.length]!;
};

/** A clear sky: deep blue overhead fading to pale blue at the horizon. */
const sky = (_x: number, y: number): Rgb => mix([45, 105, 195], [165, 205, 238], y / HEIGHT);

/** Dry sand in ripples of lighter and darker tan. */
const beach = (x: number, y: number): Rgb => mix([220, 196, 150], [190, 168, 120], (Math.sin(x / 9 + y / 23) + 1) / 2);

/** Asphalt with a lighter concrete kerb along the bottom. */
const street = (_x: number, y: number): Rgb => (y > HEIGHT * 0.8 ? [150, 150, 148] : [84, 86, 90]);

/** Dark ploughed soil in furrows. */
const soil = (x: number, y: number): Rgb => mix([88, 60, 42], [66, 45, 32], (Math.sin(y / 6 + x / 50) + 1) / 2);

/** Autumn leaves: orange with some rust. */
const leaves = (x: number, y: number, random: () => number): Rgb =>
  random() < 0.2 ? [190, 80, 25] : mix([240, 135, 35], [225, 112, 28], ((x + y) % 17) / 17);

/** A lemon-yellow wall. */
const wall = (): Rgb => [248, 220, 70];

const SCENES = [
  { name: 'a meadow of varied greens with a ladybird', paint: meadow, expected: 'green' },
  { name: 'a sky from deep to pale blue', paint: sky, expected: 'blue' },
  { name: 'a sandy beach', paint: beach, expected: 'beige' },
  { name: 'a grey street with a concrete kerb', paint: street, expected: 'gray' },
  { name: 'dark ploughed soil', paint: soil, expected: 'brown' },
  { name: 'a heap of autumn leaves', paint: leaves, expected: 'orange' },
  { name: 'a lemon-yellow wall', paint: wall, expected: 'yellow' },
] as const;

describe('the colours model on rendered scenes', () => {
  const colors = {
    model: 'onnx/colors',
    manifest: ManifestSchema.parse(manifestJson),
    modelPath: fileURLToPath(new URL('../../models/colors.onnx', import.meta.url)),
    maxPixels: MAX_PIXELS,
    intraOpThreads: 0,
  };
  const classify = async (bytes: Buffer, topK: number) =>
    (await inferOnnx({ ...colors, bytes, params: { topK } })) as ClassificationResult;

  it.each(SCENES.map((s, i) => [s.name, s.expected, s.paint, i] as const))(
    'names %s %s first',
    async (_name, expected, paint, seed) => {
      const bytes = await render(paint, seed + 1);
      const result = await classify(bytes, 3);
      expect(result.labels[0]!.label).toBe(expected);
      expect(result.labels[0]!.score).toBeGreaterThan(0.5);
    },
  );

  it('still sees the ladybird on the meadow', async () => {
    const bytes = await render(meadow, 1);
    const result = await classify(bytes, 12);
    const red = result.labels.find((l) => l.label === 'red')!;
    // The blob is π·14² ≈ 616 of 76800 pixels, 0.8 %.
    expect(red.score).toBeGreaterThan(0.004);
    expect(red.score).toBeLessThan(0.03);
  });
});
