import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { inspectImage } from '#shared/inference/image.ts';
import {
  type EmbeddingSettings,
  fitsInline,
  inlineVectorBytes,
  paramsSchema,
  postprocess,
  run,
  settingsSchema,
} from '#shared/inference/tasks/embedding/index.ts';
import { channelMeanEmbedder, runSessionFor } from '../../scripts/models/detectors.ts';

const MAX_PIXELS = 40_000_000;
/** Mean colour (r, g, b) → (r, 2g, r + b, −b): a known 4-dimensional embedding (columns of a [3, 4] matrix). */
const PROJECTION = [
  [1, 0, 1, 0],
  [0, 2, 0, 0],
  [0, 0, 1, -1],
];

function settings(normalize: boolean): EmbeddingSettings {
  return settingsSchema.parse({
    task: 'embedding',
    input: { name: 'pixels', layout: 'NCHW', width: 16, height: 16, resize: 'fill' },
    output: { name: 'embedding', normalize },
  });
}

async function embed(normalize: boolean, rgb: { r: number; g: number; b: number }) {
  const bytes = await sharp({ create: { width: 40, height: 30, channels: 3, background: rgb } }).png().toBuffer();
  const session = await runSessionFor(channelMeanEmbedder({ name: 'pixels', size: 16 }, 'embedding', PROJECTION));
  const image = await inspectImage(bytes, MAX_PIXELS);
  return run({ model: 'onnx/test-embedder', bytes, image, maxPixels: MAX_PIXELS }, settings(normalize), {}, session);
}

describe('embeddings through a real onnxruntime session', () => {
  it('returns the raw vector when the manifest does not normalise', async () => {
    // Mean colour (0.6, 0.2, 0.8) → (0.6, 0.4, 1.4, −0.8).
    const result = await embed(false, { r: 153, g: 51, b: 204 });
    expect(result).toMatchObject({ kind: 'embedding', model: 'onnx/test-embedder', dimensions: 4, image: { format: 'png', width: 40, height: 30 } });
    [0.6, 0.4, 1.4, -0.8].forEach((v, i) => expect(result.vector[i]).toBeCloseTo(v, 5));
  });

  it('scales the vector to unit length, keeping its direction, when the manifest normalises', async () => {
    const { vector } = await embed(true, { r: 153, g: 51, b: 204 });
    const norm = Math.hypot(0.6, 0.4, 1.4, -0.8);
    [0.6, 0.4, 1.4, -0.8].forEach((v, i) => expect(vector[i]).toBeCloseTo(v / norm, 5));
    expect(Math.hypot(...vector)).toBeCloseTo(1, 6);
  });
});

describe('embedding post-processing', () => {
  const output = { name: 'embedding', normalize: true };

  it('flattens [1, D, 1, 1] and leaves a zero vector as it is', () => {
    expect(postprocess('m', { data: Float32Array.of(3, 4), dims: [1, 2, 1, 1] }, { output })).toEqual([0.6, 0.8]);
    expect(postprocess('m', { data: Float32Array.of(0, 0), dims: [1, 2] }, { output })).toEqual([0, 0]);
  });

  it('writes each float32 as the shortest decimal that reads back as it', () => {
    const [v] = postprocess('m', { data: Float32Array.of(0.2), dims: [1, 1] }, { output: { ...output, normalize: false } });
    expect(v).toBe(0.2);
    expect(Math.fround(v!)).toBe(Math.fround(0.2));
  });

  it('refuses a batch of vectors or a non-finite value as a model error', () => {
    expect(() => postprocess('m', { data: new Float32Array(6), dims: [2, 3] }, { output })).toThrow(/shape \[2, 3\]/);
    expect(() => postprocess('m', { data: Float32Array.of(1, Number.NaN), dims: [1, 2] }, { output })).toThrow(/NaN/);
  });

  it('says whether a vector fits inline by the bytes of its JSON', () => {
    const vector = [0.5, -0.25, 1];
    expect(inlineVectorBytes(vector)).toBe('[0.5,-0.25,1]'.length);
    expect(fitsInline(vector, 13)).toBe(true);
    expect(fitsInline(vector, 12)).toBe(false);
  });

  it('takes no params', () => {
    expect(paramsSchema.safeParse({}).success).toBe(true);
    expect(paramsSchema.safeParse({ topK: 1 }).success).toBe(false);
  });
});
