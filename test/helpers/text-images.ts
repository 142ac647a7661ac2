import sharp from 'sharp';
import { seededRandom } from '../../scripts/lib/seeded-random.ts';

/**
 * Pictures of text rendered on the spot (SVG through sharp's librsvg) with the fonts installed
 * here: the text they hold is known exactly, so OCR can be scored against it. Seeded: the same
 * spec always gives the same bytes.
 */

export const FONTS = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'Liberation Sans', 'Liberation Serif', 'Liberation Mono'] as const;
export type Font = (typeof FONTS)[number];

export interface TextLineSpec {
  text: string;
  font: Font;
  /** Font size, pixels. */
  size: number;
}

export interface TextImageSpec {
  width: number;
  height: number;
  lines: TextLineSpec[];
  polarity?: 'dark-on-light' | 'light-on-dark';
  /** `photo`: gradients, soft colour blobs and grain instead of a flat colour. */
  background?: 'plain' | 'photo';
  /**
   * EXIF orientation to store the picture with (1 upright, 3 half turn, 6 and 8 quarter turns):
   * the pixels are turned the other way, so the picture still reads upright once oriented.
   */
  orientation?: 1 | 3 | 6 | 8;
  format?: 'png' | 'jpeg';
  seed?: number;
}

export interface RenderedLine {
  text: string;
  /** Where the line is drawn in the upright picture: left, top (ascender) and its font size. */
  x: number;
  y: number;
  size: number;
}

/** Space between lines, in font sizes. */
const LINE_SPACING = 1.9;
const MARGIN = 0.05;

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Lines laid out top to bottom from the top-left margin. */
export function layoutLines(spec: Pick<TextImageSpec, 'width' | 'height' | 'lines'>): RenderedLine[] {
  let top = Math.round(spec.height * MARGIN);
  const x = Math.round(spec.width * MARGIN);
  return spec.lines.map((line) => {
    const placed = { text: line.text, x, y: top, size: line.size };
    top += Math.round(line.size * LINE_SPACING);
    return placed;
  });
}

function textSvg(spec: TextImageSpec, placed: RenderedLine[], colour: string): Buffer {
  const texts = placed.map(
    (p, i) =>
      `<text x="${p.x}" y="${p.y + Math.round(p.size * 0.8)}" font-family="${spec.lines[i]!.font}" font-size="${p.size}" fill="${colour}">${escapeXml(p.text)}</text>`,
  );
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${spec.width}" height="${spec.height}">${texts.join('')}</svg>`);
}

/**
 * A photo-like backdrop in a limited tone range (so text of the chosen polarity stays legible):
 * a diagonal gradient, a few soft colour blobs and per-pixel grain, built at a sixteenth of the
 * size and scaled up (smooth, and quick for 12 MP).
 */
async function photoBackground(width: number, height: number, light: boolean, seed: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const w = Math.max(8, Math.round(width / 16));
  const h = Math.max(8, Math.round(height / 16));
  const [low, high] = light ? [150, 250] : [10, 100];
  const blobs = Array.from({ length: 6 }, () => ({
    x: random() * w,
    y: random() * h,
    r: (0.1 + random() * 0.3) * Math.max(w, h),
    colour: [random(), random(), random()].map((c) => (c - 0.5) * 60),
  }));
  const small = new Uint8Array(w * h * 3);
  const tint = [random(), random(), random()];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (x / w + y / h) / 2;
      for (let c = 0; c < 3; c++) {
        let v = low + (high - low) * (0.3 + 0.5 * (light ? 1 - t : t)) + (tint[c]! - 0.5) * 30;
        for (const b of blobs) v += b.colour[c]! * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r));
        small[(y * w + x) * 3 + c] = Math.min(high, Math.max(low, v));
      }
    }
  }
  const smooth = await sharp(small, { raw: { width: w, height: h, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
  for (let i = 0; i < smooth.length; i++) smooth[i] = Math.min(255, Math.max(0, smooth[i]! + (random() - 0.5) * 24));
  return smooth;
}

/** EXIF orientation → the turn (degrees clockwise) that stores an upright picture under it. */
const STORED_TURN = { 1: 0, 3: 180, 6: 270, 8: 90 } as const;

export async function renderTextImage(spec: TextImageSpec): Promise<{ bytes: Buffer; lines: RenderedLine[] }> {
  const light = (spec.polarity ?? 'dark-on-light') === 'dark-on-light';
  const placed = layoutLines(spec);
  const seed = spec.seed ?? 1;
  const background =
    spec.background === 'photo'
      ? sharp(await photoBackground(spec.width, spec.height, light, seed), { raw: { width: spec.width, height: spec.height, channels: 3 } })
      : sharp({ create: { width: spec.width, height: spec.height, channels: 3, background: light ? '#f7f5f0' : '#1c1f26' } });
  const upright = await background
    .composite([{ input: textSvg(spec, placed, light ? '#141414' : '#f2f2f2'), top: 0, left: 0 }])
    .png()
    .toBuffer();
  const orientation = spec.orientation ?? 1;
  let stored = sharp(upright).rotate(STORED_TURN[orientation]);
  if (orientation !== 1) stored = stored.withMetadata({ orientation });
  const bytes = await (spec.format === 'jpeg' ? stored.jpeg({ quality: 90 }) : stored.png()).toBuffer();
  return { bytes, lines: placed };
}

/** A short seeded phrase of everyday words, numbers and punctuation. */
const WORDS = (
  'invoice total amount paid receipt order number date street avenue station coffee market garden river ' +
  'north south open closed monday friday price discount weight delivery address phone email account ' +
  'meeting report summer winter window table green yellow quick brown jumps over lazy dog'
).split(' ');

export function phrase(random: () => number, words = 4): string {
  const parts = Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]!);
  const first = parts[0]!;
  parts[0] = first[0]!.toUpperCase() + first.slice(1);
  if (random() < 0.5) parts.push(String(Math.floor(random() * 9000) + 100));
  if (random() < 0.3) parts[parts.length - 1] += random() < 0.5 ? '.' : ':';
  return parts.join(' ');
}
