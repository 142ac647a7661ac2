import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { type ClassificationManifest, ManifestSchema } from '#shared/inference/onnx/manifest.ts';
import { buildResNet18, writeModel } from '../models/random-nets.ts';
import { seededRandom } from '../lib/seeded-random.ts';

/**
 * What the benchmark runs on, made at bench time in a temporary folder: a models folder with the
 * demo model (copied from models/) and a seeded random ResNet-18 (built, never committed), and
 * photo-like JPEGs generated with sharp.
 */

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/** The seed of the bench's ResNet-18: same seed, same weights, comparable runs. */
export const RESNET_SEED = 18;

export interface BenchModel {
  /** Registry name, e.g. `onnx/resnet18`. */
  name: string;
  /** Short label for the report. */
  label: string;
  manifest: ClassificationManifest;
  modelPath: string;
}

export interface Workspace {
  root: string;
  modelsDir: string;
  models: { colors: BenchModel; resnet18: BenchModel };
}

function loadModel(modelsDir: string, file: string, label: string): BenchModel {
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(modelsDir, `${file}.json`), 'utf8')));
  if (manifest.task !== 'classification') throw new Error(`${file} is a ${manifest.task} model; the benches run classifiers`);
  return { name: `onnx/${file}`, label, manifest, modelPath: join(modelsDir, manifest.file) };
}

export async function createWorkspace(): Promise<Workspace> {
  const root = mkdtempSync(join(tmpdir(), 'pipeline-bench-'));
  const modelsDir = join(root, 'models');
  mkdirSync(modelsDir, { recursive: true });
  for (const file of ['colors.json', 'colors.onnx']) copyFileSync(join(PROJECT_ROOT, 'models', file), join(modelsDir, file));
  await writeModel(modelsDir, 'resnet18', buildResNet18({ seed: RESNET_SEED }));
  return {
    root,
    modelsDir,
    models: { colors: loadModel(modelsDir, 'colors', 'colors'), resnet18: loadModel(modelsDir, 'resnet18', 'resnet18') },
  };
}

export interface ImageSize {
  /** Short label for the report, e.g. `1 MP`. */
  label: string;
  key: string;
  width: number;
  height: number;
}

/** 4:3 like a phone camera: 1155×866 ≈ 1.0 MP, 4000×3000 = 12 MP. */
export const IMAGE_SIZES = {
  '1mp': { label: '1 MP', key: '1mp', width: 1155, height: 866 },
  '12mp': { label: '12 MP', key: '12mp', width: 4000, height: 3000 },
} as const satisfies Record<string, ImageSize>;


/** Sensor-like grain: Gaussian with this standard deviation in 8-bit levels. */
const GRAIN_SIGMA = 12;
/** Grain is drawn once as a square tile and repeated: JPEG's 8×8 blocks cannot tell, and 12 MP of Gaussian noise is slow to draw. */
const GRAIN_TILE = 1024;
/** What phones and cameras save at. */
const JPEG_QUALITY = 90;

/**
 * A photo-like JPEG: a gradient sky with overlapping translucent shapes (smooth regions and hard
 * edges), drawn at a quarter of the size and enlarged so edges are soft as in a photo, plus sensor
 * grain so the JPEG is as large as a real photo's (a flat synthetic image would compress to
 * almost nothing and make decoding look cheaper than it is).
 */
export async function generatePhoto(size: ImageSize, seed: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const colour = () => `rgb(${Math.floor(random() * 256)},${Math.floor(random() * 256)},${Math.floor(random() * 256)})`;
  const w = Math.ceil(size.width / 4);
  const h = Math.ceil(size.height / 4);
  const shapes: string[] = [];
  for (let i = 0; i < 36; i++) {
    const opacity = (0.5 + random() / 2).toFixed(2);
    const [x, y] = [random() * w, random() * h];
    if (random() < 0.5) {
      shapes.push(`<ellipse cx="${x}" cy="${y}" rx="${(random() * w) / 6}" ry="${(random() * h) / 6}" fill="${colour()}" opacity="${opacity}"/>`);
    } else {
      shapes.push(
        `<rect x="${x}" y="${y}" width="${(random() * w) / 3}" height="${(random() * h) / 3}" fill="${colour()}" opacity="${opacity}" transform="rotate(${random() * 90} ${x} ${y})"/>`,
      );
    }
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<defs><linearGradient id="sky" x1="0" y1="0" x2="0.3" y2="1"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs>` +
    `<rect width="100%" height="100%" fill="url(#sky)"/>${shapes.join('')}</svg>`;
  const scene = await sharp(Buffer.from(svg))
    .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic' })
    .removeAlpha()
    .raw()
    .toBuffer();
  const grain = await grainTile();
  // Uint8ClampedArray clamps the sum to 0–255 for us.
  const pixels = new Uint8ClampedArray(scene.length);
  const rowBytes = size.width * 3;
  for (let y = 0; y < size.height; y++) {
    const tileRow = ((y + seed) % GRAIN_TILE) * GRAIN_TILE * 3;
    for (let x = 0; x < rowBytes; x++) {
      const i = y * rowBytes + x;
      pixels[i] = scene[i]! + grain[tileRow + (x % (GRAIN_TILE * 3))]! - 128;
    }
  }
  return sharp(Buffer.from(pixels.buffer), { raw: { width: size.width, height: size.height, channels: 3 } })
    .jpeg({ quality: JPEG_QUALITY })
    .toBuffer();
}

let grain: Promise<Buffer> | undefined;

function grainTile(): Promise<Buffer> {
  grain ??= sharp({
    create: { width: GRAIN_TILE, height: GRAIN_TILE, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: GRAIN_SIGMA } },
  })
    .raw()
    .toBuffer();
  return grain;
}

export interface BenchImage {
  size: ImageSize;
  bytes: Buffer;
}

/** `count` different photos of a size (seeded from `firstSeed`). */
export async function generatePhotos(size: ImageSize, count: number, firstSeed: number): Promise<BenchImage[]> {
  const images: BenchImage[] = [];
  for (let i = 0; i < count; i++) images.push({ size, bytes: await generatePhoto(size, firstSeed + i) });
  return images;
}
