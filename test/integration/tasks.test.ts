import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelMeanEmbedder, constantOutputsGraph, yoloOutput } from '../../scripts/models/detectors.ts';
import { RED } from '../helpers/images.ts';
import { startTestCloud, submitBytes, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * Every ONNX task through the whole local cloud: a detector and two embedders dropped into the
 * models folder beside the demo classifier, real uploads, real sharp and onnxruntime, results
 * read back through the API (a large vector through its presigned URL).
 */

let t: TestCloud;
let modelsDir: string;

/** The detector's input; a 640×480 photo letterboxes into it at scale 0.5 with 40 px of padding above and below. */
const SIDE = 320;
const LABELS = ['person', 'car'];
/** Dimensions of the embedding too large for the result item. */
const LARGE_DIMENSIONS = 100_000;

function writeManifest(name: string, manifest: Record<string, unknown>, onnx: Uint8Array): void {
  writeFileSync(join(modelsDir, `${name}.onnx`), onnx);
  writeFileSync(join(modelsDir, `${name}.json`), JSON.stringify({ ...manifest, file: `${name}.onnx` }));
}

/** [3, D]: dimension j carries channel j mod 3, so the vector repeats the image's mean colour. */
function repeatingProjection(dimensions: number): number[][] {
  return [0, 1, 2].map((c) => Array.from({ length: dimensions }, (_, j) => (j % 3 === c ? 1 : 0)));
}

beforeAll(async () => {
  modelsDir = mkdtempSync(join(tmpdir(), 'tasks-models-'));
  for (const file of ['colors.onnx', 'colors.json']) copyFileSync(join('models', file), join(modelsDir, file));
  // In model-input pixels (cxcywh): a person, the same person seen again a little lower (NMS drops it), a car.
  const boxes = [
    { box: [160, 160, 80, 60], scores: [0.9, 0.01] },
    { box: [162, 161, 80, 60], scores: [0.8, 0.02] },
    { box: [60, 100, 40, 40], scores: [0.05, 0.6] },
  ] as const;
  writeManifest(
    'detector',
    {
      task: 'detection',
      description: 'a detector that always sees the same person and car',
      input: { name: 'images', layout: 'NCHW', width: SIDE, height: SIDE },
      output: { format: 'yolo', name: 'output0', layout: 'per-box', objectness: false },
      labels: LABELS,
    },
    constantOutputsGraph({ name: 'images', dims: [1, 3, SIDE, SIDE] }, [yoloOutput('output0', boxes, 'per-box', false)]),
  );
  const embedder = (dimensions: number) => ({
    task: 'embedding',
    description: `the mean colour, repeated over ${dimensions} dimensions`,
    input: { name: 'pixels', layout: 'NCHW', width: 32, height: 32, resize: 'fill' },
    output: { name: 'embedding' },
  });
  writeManifest('embedder', embedder(3), channelMeanEmbedder({ name: 'pixels', size: 32 }, 'embedding', repeatingProjection(3)));
  writeManifest(
    'wide-embedder',
    embedder(LARGE_DIMENSIONS),
    channelMeanEmbedder({ name: 'pixels', size: 32 }, 'embedding', repeatingProjection(LARGE_DIMENSIONS)),
  );
  t = await startTestCloud({ env: { MODELS_DIR: modelsDir } });
});

afterAll(async () => {
  await t?.stop();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

const solid = (width: number, height: number, colour: typeof RED) =>
  sharp({ create: { width, height, channels: 3, background: colour } }).jpeg({ quality: 95 }).toBuffer();

/** The unit vector along the colour, as the embedder normalises it (JPEG moves a channel by a level or two). */
function unitColour({ r, g, b }: typeof RED): number[] {
  const norm = Math.hypot(r, g, b);
  return [r / norm, g / norm, b / norm];
}

describe('GET /v1/models', () => {
  it('lists each model with its task, runtime and the params its task takes', async () => {
    const models = (await t.client.listModels()) as unknown as Array<{ name: string; task: string; runtime: string; params: Record<string, string> }>;
    const byName = new Map(models.map((m) => [m.name, m]));
    expect(byName.get('onnx/colors')).toMatchObject({ task: 'classification', runtime: 'onnx' });
    expect(Object.keys(byName.get('onnx/colors')!.params)).toEqual(['topK']);
    expect(byName.get('onnx/detector')).toMatchObject({ task: 'detection', runtime: 'onnx' });
    expect(Object.keys(byName.get('onnx/detector')!.params).sort()).toEqual(['iouThreshold', 'maxObjects', 'minScore']);
    expect(byName.get('onnx/embedder')).toMatchObject({ task: 'embedding', runtime: 'onnx', params: {} });
  });
});

describe('detection', () => {
  it('returns the known boxes, duplicates suppressed, in the pixels of the uploaded photo', async () => {
    const job = await submitBytes(t.client, await solid(640, 480, RED), 'image/jpeg', { model: 'onnx/detector' });
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result).toMatchObject({ kind: 'detection', model: 'onnx/detector', image: { format: 'jpeg', width: 640, height: 480 } });
    // Input (cx 160, cy 160, 80×60) − 40 px padding, ÷ 0.5 → photo (240, 180, 160×120).
    expect((job.result as { objects: unknown[] }).objects).toEqual([
      { label: 'person', score: 0.9, box: { x: 240, y: 180, width: 160, height: 120 } },
      { label: 'car', score: 0.6, box: { x: 80, y: 80, width: 80, height: 80 } },
    ]);
  });

  it('applies the job’s params over the manifest’s defaults', async () => {
    const job = await submitBytes(t.client, await solid(640, 480, RED), 'image/jpeg', {
      model: 'onnx/detector',
      params: { minScore: 0.7 },
    });
    expect((job.result as { objects: Array<{ label: string }> }).objects.map((o) => o.label)).toEqual(['person']);
  });

  it('refuses a classification param for a detector at job creation', async () => {
    await expect(
      t.client.createJob({ model: 'onnx/detector', contentType: 'image/jpeg', contentLength: 100, params: { topK: 3 } }),
    ).rejects.toThrow(/params are invalid for onnx\/detector/);
  });
});

describe('embedding', () => {
  it('returns a small vector inline, unit length, along the image’s colour', async () => {
    const job = await submitBytes(t.client, await solid(200, 150, RED), 'image/jpeg', { model: 'onnx/embedder' });
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const result = job.result as { kind: string; dimensions: number; vector: number[]; vectorUrl?: string };
    expect(result).toMatchObject({ kind: 'embedding', model: 'onnx/embedder', dimensions: 3 });
    expect(result.vectorUrl).toBeUndefined();
    const expected = unitColour(RED);
    result.vector.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 2));
  });

  it(`stores a ${LARGE_DIMENSIONS}-dimension vector aside and links it; the link serves the vector`, async () => {
    const job = await submitBytes(t.client, await solid(200, 150, RED), 'image/jpeg', { model: 'onnx/wide-embedder' });
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const result = job.result as Record<string, unknown>;
    expect(result).toMatchObject({ kind: 'embedding', model: 'onnx/wide-embedder', dimensions: LARGE_DIMENSIONS });
    expect(result.vector).toBeUndefined();
    expect(result.vectorKey).toBeUndefined();
    expect(job.resultUrl).toBeUndefined();

    const response = await fetch(result.vectorUrl as string);
    expect(response.status).toBe(200);
    const vector = (await response.json()) as number[];
    expect(vector).toHaveLength(LARGE_DIMENSIONS);
    // Unit length over all dimensions: each repetition of the colour carries 1/√(D/3) of it.
    const scale = Math.sqrt(3 / LARGE_DIMENSIONS);
    const expected = unitColour(RED).map((v) => v * scale);
    for (const i of [0, 1, 2, 3, 50_001, LARGE_DIMENSIONS - 1]) expect(vector[i]! / scale).toBeCloseTo(expected[i % 3]! / scale, 2);
  });
});
