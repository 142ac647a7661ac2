import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OcrManifestSchema, resolveOcrFiles } from '#shared/inference/tasks/ocr/manifest.ts';
import { OcrParamsSchema, OCR_PARAMS_DOC, MAX_SIDE_LIMIT } from '#shared/inference/tasks/ocr/params.ts';

const MODELS_DIR = join(import.meta.dirname, '../../models');
const shipped = JSON.parse(readFileSync(join(MODELS_DIR, 'ocr.json'), 'utf8'));

const issuePaths = (value: unknown) => {
  const parsed = OcrManifestSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
};

describe('OCR manifest', () => {
  it('accepts the shipped models/ocr.json and fills PaddleOCR defaults for omitted settings', () => {
    const manifest = OcrManifestSchema.parse(shipped);
    expect(manifest.license).toBe('Apache-2.0');
    const { detection: _, ...withoutDetection } = shipped;
    expect(OcrManifestSchema.parse(withoutDetection).detection).toMatchObject({ sideLimit: 960, binarizationThreshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5 });
  });

  it('resolves package paths to the installed files', () => {
    const files = resolveOcrFiles(OcrManifestSchema.parse(shipped), MODELS_DIR);
    for (const path of Object.values(files)) expect(existsSync(path), path).toBe(true);
  });

  it('names the field at fault', () => {
    expect(issuePaths({ ...shipped, task: 'classification' })).toEqual(['task']);
    expect(issuePaths({ ...shipped, files: { ...shipped.files, recognition: undefined } })).toEqual(['files.recognition']);
    expect(issuePaths({ ...shipped, files: { ...shipped.files, dictionary: '../../etc/keys.txt' } })).toEqual(['files.dictionary']);
    expect(issuePaths({ ...shipped, detection: { ...shipped.detection, boxThreshold: 1.5 } })).toEqual(['detection.boxThreshold']);
    expect(issuePaths({ ...shipped, license: undefined })).toEqual(['license']);
    expect(issuePaths({ ...shipped, extra: true })).toEqual(['']);
  });
});

describe('OCR params', () => {
  it('accepts the documented params and refuses unknown or out-of-range ones', () => {
    expect(OcrParamsSchema.parse({ minConfidence: 0.7, sideLimit: 1280, classifyOrientation: true })).toEqual({ minConfidence: 0.7, sideLimit: 1280, classifyOrientation: true });
    expect(OcrParamsSchema.safeParse({ sideLimit: MAX_SIDE_LIMIT + 1 }).success).toBe(false);
    expect(OcrParamsSchema.safeParse({ minConfidence: -0.1 }).success).toBe(false);
    expect(OcrParamsSchema.safeParse({ topK: 3 }).success).toBe(false);
    expect(Object.keys(OCR_PARAMS_DOC).sort()).toEqual(Object.keys(OcrParamsSchema.shape).sort());
  });
});
