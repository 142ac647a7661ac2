import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OcrResult } from '#shared/inference/tasks/ocr/result.ts';
import { startTestCloud, submitBytes, type TestCloud } from '../helpers/local-cloud.ts';
import { renderTextImage, type TextLineSpec } from '../helpers/text-images.ts';

/**
 * OCR through the whole local cloud with the shipped models/ocr.json and the real PP-OCRv4
 * networks: pictures of known text rendered on the spot, uploaded, read by the worker, and the
 * lines read back through the API. onnx/ocr is the default model here, so the worker warms its
 * engine at start.
 */

let t: TestCloud;

const LINES: TextLineSpec[] = [
  { text: 'Invoice 2024-117', font: 'DejaVu Sans', size: 40 },
  { text: 'Total amount: 42.50', font: 'Liberation Sans', size: 34 },
  { text: 'Paid by card on Monday', font: 'DejaVu Serif', size: 30 },
];
const SIZE = { width: 900, height: 500 };

beforeAll(async () => {
  t = await startTestCloud({
    env: { DEFAULT_MODEL: 'onnx/ocr' },
    // No retries are under test: a job on a loaded machine must not be redelivered while it is read.
    worker: { visibilityTimeoutSeconds: 60 },
  });
});

afterAll(async () => {
  await t?.stop();
});

async function read(bytes: Buffer, contentType: string, model?: string): Promise<OcrResult> {
  const job = await submitBytes(t.client, bytes, contentType, model ? { model } : {});
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  return job.result as OcrResult;
}

describe('onnx/ocr', () => {
  it('is listed available, as the default, with the OCR params and what each does', async () => {
    const models = await t.client.listModels();
    const ocr = models.find((m) => m.name === 'onnx/ocr');
    expect(ocr).toMatchObject({ runtime: 'onnx', task: 'ocr', available: true, default: true });
    expect(ocr?.reason).toBeUndefined();
    expect(Object.keys(ocr!.params).sort()).toEqual(['classifyOrientation', 'minConfidence', 'sideLimit']);
    expect(ocr!.params.sideLimit).toMatch(/longer image side/);
  });

  it('reads a rendered page line by line, exactly, with each line’s box inside the picture', async () => {
    const { bytes } = await renderTextImage({ ...SIZE, lines: LINES });
    const result = await read(bytes, 'image/png', 'onnx/ocr');
    expect(result).toMatchObject({ kind: 'ocr', model: 'onnx/ocr', image: { format: 'png', ...SIZE } });
    expect(result.lines.map((l) => l.text)).toEqual(LINES.map((l) => l.text));
    expect(result.text).toBe(LINES.map((l) => l.text).join('\n'));
    for (const line of result.lines) {
      expect(line.confidence).toBeGreaterThan(0.8);
      expect(line.box).toHaveLength(4);
      for (const [x, y] of line.box) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(SIZE.width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThan(SIZE.height);
      }
    }
  });

  it('reads a picture stored turned a quarter (EXIF orientation 6) as it is shown, boxes in the shown picture', async () => {
    const { bytes } = await renderTextImage({ ...SIZE, lines: LINES, orientation: 6 });
    // A job naming no model gets the default, onnx/ocr here.
    const result = await read(bytes, 'image/png');
    expect(result.model).toBe('onnx/ocr');
    expect(result.image).toEqual({ format: 'png', ...SIZE });
    expect(result.lines.map((l) => l.text)).toEqual(LINES.map((l) => l.text));
    // Upright text: each box is wider than tall and below the one before.
    let previousTop = -1;
    for (const { box } of result.lines) {
      const [tl, tr, , bl] = box;
      expect(tr[0] - tl[0]).toBeGreaterThan(bl[1] - tl[1]);
      expect(tl[1]).toBeGreaterThan(previousTop);
      previousTop = tl[1];
    }
  });

  it('refuses a param OCR does not take at job creation, naming the model', async () => {
    await expect(
      t.client.createJob({ model: 'onnx/ocr', contentType: 'image/png', contentLength: 100, params: { topK: 3 } }),
    ).rejects.toThrow(/params are invalid for onnx\/ocr/);
  });
});
