import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobFailure } from '#shared/errors.ts';
import { inferOnnx, type OnnxRequest } from '#shared/inference/onnx/infer.ts';
import { ManifestSchema } from '#shared/inference/onnx/manifest.ts';
import { InferencePool, threadExecArgv } from '#shared/inference/pool/pool.ts';
import { constantOutputsGraph, yoloOutput } from '../../scripts/models/detectors.ts';

/**
 * The inference pool runs the same code as the inline path in worker threads (loaded from the
 * TypeScript sources through tsx here): the same results, the same failures, and a thread that
 * dies takes only its own job with it.
 */

let dir: string;
let pool: InferencePool;

const colors: Omit<OnnxRequest, 'bytes'> = {
  model: 'onnx/colors',
  manifest: ManifestSchema.parse(JSON.parse(readFileSync('models/colors.json', 'utf8'))),
  modelPath: join(process.cwd(), 'models/colors.onnx'),
  params: { topK: 4 },
  maxPixels: 40_000_000,
  intraOpThreads: 1,
};
let detector: Omit<OnnxRequest, 'bytes'>;

/** Results carry their own timings; everything else must be equal. */
function withoutTimings(result: object): object {
  const { timings: _timings, ...rest } = result as { timings: unknown };
  return rest;
}

const photo = () =>
  sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 30, g: 90, b: 200 } } })
    .composite([{ input: { create: { width: 100, height: 200, channels: 3, background: { r: 240, g: 200, b: 20 } } }, left: 0, top: 0 }])
    .jpeg()
    .toBuffer();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pool-test-'));
  const modelPath = join(dir, 'detector.onnx');
  const boxes = [{ box: [32, 32, 16, 16], scores: [0.7] }] as const;
  writeFileSync(modelPath, constantOutputsGraph({ name: 'images', dims: [1, 3, 64, 64] }, [yoloOutput('out', boxes, 'per-box', false)]));
  detector = {
    model: 'onnx/detector',
    manifest: ManifestSchema.parse({
      task: 'detection',
      description: 'one box',
      file: 'detector.onnx',
      input: { name: 'images', layout: 'NCHW', width: 64, height: 64 },
      output: { format: 'yolo', name: 'out', layout: 'per-box', objectness: false },
      labels: ['thing'],
    }),
    modelPath,
    params: {},
    maxPixels: 40_000_000,
    intraOpThreads: 1,
  };
  pool = new InferencePool(2);
});

afterAll(async () => {
  await pool?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the inference pool', () => {
  it('returns what inline inference returns, for a classifier and a detector', async () => {
    const bytes = await photo();
    for (const model of [colors, detector]) {
      const inline = await inferOnnx({ ...model, bytes: Buffer.from(bytes) });
      const pooled = await pool.infer({ ...model, bytes: Buffer.from(bytes) });
      expect(withoutTimings(pooled)).toEqual(withoutTimings(inline));
    }
  });

  it('runs jobs in parallel threads, up to its size', async () => {
    const bytes = await photo();
    const results = await Promise.all(Array.from({ length: 6 }, () => pool.infer({ ...colors, bytes: Buffer.from(bytes) })));
    expect(new Set(results.map((r) => JSON.stringify(withoutTimings(r)))).size).toBe(1);
    expect(pool.threads.length).toBeLessThanOrEqual(2);
  });

  it('fails a corrupt image with the code and permanence inline inference gives', async () => {
    const truncated = (await photo()).subarray(0, 400);
    const inline = await inferOnnx({ ...colors, bytes: Buffer.from(truncated) }).catch((e: unknown) => e);
    const pooled = await pool.infer({ ...colors, bytes: Buffer.from(truncated) }).catch((e: unknown) => e);
    expect(inline).toBeInstanceOf(JobFailure);
    expect(pooled).toBeInstanceOf(JobFailure);
    expect(pooled).toMatchObject({ code: (inline as JobFailure).code, permanent: (inline as JobFailure).permanent });
    expect((pooled as JobFailure).code).toBe('corrupt_image');
  });

  it('fails a missing model file as the model’s fault, permanently', async () => {
    const failure = await pool.infer({ ...colors, modelPath: join(dir, 'absent.onnx'), bytes: await photo() }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'model_error', permanent: true });
  });

  it('fails only the job of a thread that dies (transient, so SQS retries it) and serves the next job', async () => {
    const crashing = new InferencePool(1);
    try {
      const bytes = await photo();
      const doomed = crashing.infer({ ...colors, bytes: Buffer.from(bytes) });
      const [thread] = crashing.threads;
      await thread!.terminate();
      await expect(doomed).rejects.toMatchObject({ code: 'internal', permanent: false });
      expect(crashing.threads).not.toContain(thread);
      const next = await crashing.infer({ ...colors, bytes: Buffer.from(bytes) });
      expect(next).toMatchObject({ kind: 'classification', model: 'onnx/colors' });
    } finally {
      await crashing.close();
    }
  });

  it('hands the image over without copying when the bytes own their memory', async () => {
    const bytes = new Uint8Array(await photo());
    await pool.infer({ ...colors, bytes });
    // Transferred to the thread: this side's view is detached.
    expect(bytes.byteLength).toBe(0);
  });
});

describe('threadExecArgv', () => {
  it('keeps the parent’s Node options but not those about its own entry (a `node --input-type=module -e` parent)', () => {
    expect(threadExecArgv(['--enable-source-maps', '--input-type=module', '-e', 'code()', '--max-old-space-size=512'])).toEqual([
      '--enable-source-maps',
      '--max-old-space-size=512',
    ]);
    expect(threadExecArgv(['--import', 'file:///loader.mjs', '--eval=x', '--print', 'y'])).toEqual(['--import', 'file:///loader.mjs']);
  });
});
