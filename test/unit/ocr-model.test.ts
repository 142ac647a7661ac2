import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { type OcrManifest, OcrManifestSchema, resolveOcrFiles } from '#shared/inference/tasks/ocr/manifest.ts';
import { OcrEngine } from '#shared/inference/tasks/ocr/pipeline.ts';
import type { OcrResult } from '#shared/inference/tasks/ocr/result.ts';
import { renderTextImage, type TextLineSpec } from '../helpers/text-images.ts';

/** The real PP-OCRv4 networks on pictures of known text. */

const MODELS_DIR = join(import.meta.dirname, '../../models');
const manifest: OcrManifest = OcrManifestSchema.parse(JSON.parse(readFileSync(join(MODELS_DIR, 'ocr.json'), 'utf8')));
const files = resolveOcrFiles(manifest, MODELS_DIR);

const LINES: TextLineSpec[] = [
  { text: 'Invoice 2024-117', font: 'DejaVu Sans', size: 40 },
  { text: 'Total amount: 42.50', font: 'Liberation Sans', size: 34 },
  { text: 'Paid by card on Monday', font: 'DejaVu Serif', size: 30 },
];
const SIZE = { width: 900, height: 500 };

let engine: OcrEngine;
let upright: OcrResult;

beforeAll(async () => {
  engine = await OcrEngine.load('onnx/ocr', manifest, files);
  upright = await engine.read((await renderTextImage({ ...SIZE, lines: LINES })).bytes);
});

describe('OCR with PP-OCRv4', () => {
  it('reads clean printed lines exactly, spaces between words included, in reading order', () => {
    expect(upright.lines.map((l) => l.text)).toEqual(LINES.map((l) => l.text));
    expect(upright.text).toBe(LINES.map((l) => l.text).join('\n'));
    expect(upright.kind).toBe('ocr');
    expect(upright.image).toEqual({ format: 'png', ...SIZE });
    for (const line of upright.lines) expect(line.confidence).toBeGreaterThan(0.8);
  });

  it('gives boxes inside the image, clockwise from top-left, each below the one before', () => {
    let previousTop = -1;
    for (const { box } of upright.lines) {
      for (const [x, y] of box) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(SIZE.width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThan(SIZE.height);
      }
      const [tl, tr, br, bl] = box;
      expect(tr[0]).toBeGreaterThan(tl[0]);
      expect(br[1]).toBeGreaterThan(tr[1]);
      expect(bl[0]).toBeLessThan(br[0]);
      expect(tl[1]).toBeGreaterThan(previousTop);
      previousTop = tl[1];
    }
  });

  it('reads a picture stored turned a quarter with EXIF orientation 6 the same, with boxes in the oriented picture', async () => {
    const rotated = await renderTextImage({ ...SIZE, lines: LINES, orientation: 6 });
    const stored = await sharp(rotated.bytes).metadata();
    expect([stored.width, stored.height, stored.orientation]).toEqual([SIZE.height, SIZE.width, 6]);
    const result = await engine.read(rotated.bytes);
    expect(result.image).toEqual({ format: 'png', ...SIZE });
    expect(result.lines.map((l) => l.text)).toEqual(LINES.map((l) => l.text));
    result.lines.forEach((line, i) => {
      line.box.forEach(([x, y], corner) => {
        expect(Math.abs(x - upright.lines[i]!.box[corner]![0])).toBeLessThanOrEqual(3);
        expect(Math.abs(y - upright.lines[i]!.box[corner]![1])).toBeLessThanOrEqual(3);
      });
    });
  });

  it('reads light text on a dark photo-like background', async () => {
    const lines: TextLineSpec[] = [{ text: 'Garden market open 9000', font: 'Liberation Sans', size: 38 }];
    const result = await engine.read((await renderTextImage({ ...SIZE, lines, polarity: 'light-on-dark', background: 'photo', format: 'jpeg' })).bytes);
    expect(result.text).toBe('Garden market open 9000');
  });

  it('returns no lines, not an error, for a picture without text', async () => {
    const blank = await renderTextImage({ ...SIZE, lines: [], background: 'photo', format: 'jpeg' });
    const result = await engine.read(blank.bytes);
    expect(result.lines).toEqual([]);
    expect(result.text).toBe('');
  });

  it('drops lines below the minConfidence param', async () => {
    const bytes = (await renderTextImage({ ...SIZE, lines: LINES })).bytes;
    expect((await engine.read(bytes, { minConfidence: 1 })).lines).toEqual([]);
  });
});

describe('loading OCR models', () => {
  it('names a truncated model file in the error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocr-truncated-'));
    const truncated = join(dir, 'det.onnx');
    writeFileSync(truncated, readFileSync(files.detection).subarray(0, 100_000));
    await expect(OcrEngine.load('onnx/broken', manifest, { ...files, detection: truncated })).rejects.toThrow(truncated);
  });

  it('names a missing dictionary in the error', async () => {
    const missing = join(tmpdir(), 'no-such-dictionary.txt');
    await expect(OcrEngine.load('onnx/broken', manifest, { ...files, dictionary: missing })).rejects.toThrow(missing);
  });

  it('refuses a dictionary that does not match the recogniser, naming both files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocr-dict-'));
    const short = join(dir, 'keys.txt');
    copyFileSync(files.dictionary, short);
    writeFileSync(short, readFileSync(files.dictionary, 'utf8').split('\n').slice(0, 100).join('\n'));
    await expect(OcrEngine.load('onnx/broken', manifest, { ...files, dictionary: short })).rejects.toThrow(/keys\.txt gives 102 classes.*6625/);
  });
});
