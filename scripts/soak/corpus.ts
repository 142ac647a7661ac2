import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../lib/seeded-random.ts';

/**
 * What the soak feeds the backfill: N distinct small images (JPEG and PNG, seeded noise around a
 * seeded colour) and M bad files cycling through the kinds a real folder holds, each with the
 * outcome the backfill must give it.
 */

/** Sides of the generated images, pixels: small, so the soak measures the plumbing, not inference. */
const IMAGE_SIDE = { min: 24, max: 64 } as const;
/** How far each pixel strays from its image's colour (per channel): makes every image distinct. */
const NOISE_AMPLITUDE = 40;
/** The share of a JPEG a truncated one keeps: past its header, short of its end. */
const TRUNCATED_SHARE = 0.6;

export type BadKind = 'truncated_jpeg' | 'svg' | 'text_as_jpeg' | 'empty';
const BAD_KINDS: readonly BadKind[] = ['truncated_jpeg', 'svg', 'text_as_jpeg', 'empty'];

export type Expectation =
  | { kind: 'image' }
  | { kind: 'bad'; bad: BadKind; status: 'failed' | 'skipped'; code: 'corrupt_image' | 'not_an_image' | 'empty_file' };

/** The one right outcome of each bad kind (docs/backfill.md: results file). */
export const BAD_OUTCOMES: Record<BadKind, Extract<Expectation, { kind: 'bad' }>> = {
  // Its first bytes say JPEG, so it is sent; the worker cannot decode it.
  truncated_jpeg: { kind: 'bad', bad: 'truncated_jpeg', status: 'failed', code: 'corrupt_image' },
  svg: { kind: 'bad', bad: 'svg', status: 'skipped', code: 'not_an_image' },
  text_as_jpeg: { kind: 'bad', bad: 'text_as_jpeg', status: 'skipped', code: 'not_an_image' },
  empty: { kind: 'bad', bad: 'empty', status: 'skipped', code: 'empty_file' },
};

export interface Corpus {
  dir: string;
  /** Absolute path → what must become of it. */
  files: Map<string, Expectation>;
}

async function noisyImage(random: () => number, format: 'jpeg' | 'png'): Promise<Buffer> {
  const side = () => IMAGE_SIDE.min + Math.floor(random() * (IMAGE_SIDE.max - IMAGE_SIDE.min + 1));
  const width = side();
  const height = side();
  const base = [random(), random(), random()].map((c) => Math.floor(c * 256));
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) {
    const value = base[i % 3]! + Math.round((random() * 2 - 1) * NOISE_AMPLITUDE);
    pixels[i] = Math.max(0, Math.min(255, value));
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).toFormat(format).toBuffer();
}

function badFile(kind: BadKind, index: number, goodJpeg: Buffer): { name: string; bytes: Buffer } {
  switch (kind) {
    case 'truncated_jpeg':
      return { name: `bad-${index}-truncated.jpg`, bytes: goodJpeg.subarray(0, Math.floor(goodJpeg.length * TRUNCATED_SHARE)) };
    case 'svg':
      return {
        name: `bad-${index}-vector.svg`,
        bytes: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#${index.toString(16).padStart(6, '0')}"/></svg>\n`),
      };
    case 'text_as_jpeg':
      return { name: `bad-${index}-notes.jpg`, bytes: Buffer.from(`not a photo, just notes (${index})\n`) };
    case 'empty':
      return { name: `bad-${index}-empty.jpg`, bytes: Buffer.alloc(0) };
  }
}

/** Writes the corpus under dir/images; the same seed always writes the same bytes. */
export async function generateCorpus(dir: string, counts: { images: number; bad: number }, seed: number): Promise<Corpus> {
  const random = seededRandom(seed);
  const imagesDir = join(dir, 'images');
  mkdirSync(imagesDir, { recursive: true });
  const files = new Map<string, Expectation>();
  const digests = new Set<string>();
  for (let i = 0; i < counts.images; i++) {
    const format = i % 2 === 0 ? 'jpeg' : 'png';
    const bytes = await noisyImage(random, format);
    const digest = createHash('sha256').update(bytes).digest('hex');
    // Distinct content is the premise of "nothing processed twice": a repeat would be a generator bug.
    if (digests.has(digest)) throw new Error(`image ${i} repeats an earlier one: the generator must make distinct images`);
    digests.add(digest);
    const path = join(imagesDir, `img-${String(i).padStart(5, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`);
    writeFileSync(path, bytes);
    files.set(path, { kind: 'image' });
  }
  const goodJpeg = await noisyImage(random, 'jpeg');
  for (let i = 0; i < counts.bad; i++) {
    const kind = BAD_KINDS[i % BAD_KINDS.length]!;
    const { name, bytes } = badFile(kind, i, goodJpeg);
    const path = join(imagesDir, name);
    writeFileSync(path, bytes);
    files.set(path, BAD_OUTCOMES[kind]);
  }
  return { dir: imagesDir, files };
}
