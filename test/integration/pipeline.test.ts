import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { LOCAL_RESOURCES } from '../../scripts/local-cloud/cloud.ts';
import { s3EventRecord } from '../../scripts/local-cloud/notifications.ts';
import { buildMobileNetV2, writeModel } from '../../scripts/models/random-nets.ts';
import { BLUE, bombPng, GREEN, RED, twoTone, WHITE } from '../helpers/images.ts';
import { startTestCloud, submitBytes, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * The whole pipeline on the local cloud: presigned upload → S3 notification → SQS → worker
 * (real sharp, real onnxruntime) → DynamoDB → poll. Nothing is mocked.
 */

let t: TestCloud;
let sqs: SQSClient;
let modelsDir: string;
const LONG_LABEL_MODEL = 'onnx/mobilenet-long-labels';

beforeAll(async () => {
  // A models folder with the demo model and a user model dropped in beside it.
  modelsDir = mkdtempSync(join(tmpdir(), 'pipeline-models-'));
  for (const file of ['colors.onnx', 'colors.json']) copyFileSync(join('models', file), join(modelsDir, file));
  await writeModel(modelsDir, 'mobilenet', buildMobileNetV2({ seed: 7 }));
  // Same network, labels long enough that a top-100 result exceeds the inline limit and goes to S3.
  const labels = Array.from({ length: 1000 }, (_, i) => `class ${i} ${'x'.repeat(4000)}`);
  await writeModel(modelsDir, 'mobilenet-long-labels', buildMobileNetV2({ seed: 7, labels }));
  t = await startTestCloud({ env: { MODELS_DIR: modelsDir }, maxReceiveCount: 2 });
  sqs = new SQSClient({ region: LOCAL_RESOURCES.region, endpoint: t.cloud.endpoints.sqs, credentials: LOCAL_RESOURCES.credentials });
});

afterAll(async () => {
  sqs?.destroy();
  await t?.stop();
  rmSync(modelsDir, { recursive: true, force: true });
});

describe('images through the colours model', () => {
  it.each(['jpeg', 'png', 'webp'] as const)('classifies a %s upload by its dominant colours', async (format) => {
    const image = await twoTone(format, 640, 480, RED, BLUE, 0.7);
    const job = await submitBytes(t.client, image, `image/${format}`);
    expect(job.status).toBe('succeeded');
    const result = job.result as { kind: string; labels: { label: string; score: number }[]; image: { format: string } };
    expect(result.kind).toBe('classification');
    expect(result.image.format).toBe(format);
    expect(result.labels[0]!.label).toBe('red');
    expect(result.labels[0]!.score).toBeGreaterThan(0.6);
    expect(result.labels[1]!.label).toBe('blue');
    expect(result.labels[1]!.score).toBeGreaterThan(0.2);
    expect(job.attempts).toBe(1);
    expect(job.completedAt).toBeDefined();
  });

  it('classifies a 20-megapixel JPEG', async () => {
    const image = await twoTone('jpeg', 5600, 3600, GREEN, WHITE, 0.25);
    const job = await submitBytes(t.client, image, 'image/jpeg');
    expect(job.status).toBe('succeeded');
    const result = job.result as { labels: { label: string; score: number }[]; image: { width: number; height: number } };
    expect(result.image).toMatchObject({ width: 5600, height: 3600 });
    expect(result.labels[0]!.label).toBe('white');
    expect(result.labels[1]!.label).toBe('green');
  });

  it('honours the topK param', async () => {
    const job = await submitBytes(t.client, await twoTone('png', 64, 64, RED, BLUE), 'image/png', { params: { topK: 5 } });
    expect((job.result as { labels: unknown[] }).labels).toHaveLength(5);
  });
});

describe('bad uploads end failed, with a reason, without retries', () => {
  it('fails non-image bytes sent as image/jpeg with unsupported_media', async () => {
    const job = await submitBytes(t.client, Buffer.from('%PDF-1.7\n'.repeat(200)), 'image/jpeg');
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('unsupported_media');
    expect(job.attempts).toBe(1);
  });

  it('fails a truncated JPEG with corrupt_image', async () => {
    const whole = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg()
      .toBuffer();
    const job = await submitBytes(t.client, whole.subarray(0, Math.floor(whole.length * 0.6)), 'image/jpeg');
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('corrupt_image');
  });

  it('fails a decompression-bomb PNG with image_too_large before decoding it', async () => {
    const bomb = bombPng(20_000, 20_000); // 400 MP declared, a few tens of KB on the wire
    expect(bomb.length).toBeLessThan(200_000);
    const job = await submitBytes(t.client, bomb, 'image/png');
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('image_too_large');
    expect(job.error?.message).toMatch(/40000000/);
  });
});

describe('exactly one result', () => {
  it('gives one result for a duplicated S3 event', async () => {
    const image = await twoTone('png', 128, 128, BLUE, WHITE);
    const job = await t.client.createJob({ contentType: 'image/png', contentLength: image.length });
    const before = t.cloud.eventSource.stats.records;
    await uploadToPresignedUrl(job.upload, image);
    // S3 may deliver an event twice: send the same notification again while the first is in flight.
    await t.cloud.notifyUpload(`uploads/${job.jobId}`);
    const done = await t.client.waitForJob(job.jobId, { minIntervalMs: 50 });
    expect(done.status).toBe('succeeded');
    await t.cloud.notifyUpload(`uploads/${job.jobId}`); // and once more after it finished
    await waitFor(() => t.cloud.eventSource.stats.records >= before + 3);
    await t.cloud.eventSource.idle();
    const after = (await t.client.getJob(job.jobId)).job;
    expect(after.attempts).toBe(1);
    expect(after.completedAt).toBe(done.completedAt);
    expect(after.result).toEqual(done.result);
  });

  it('redelivers after a worker failure past the claim, and then succeeds', async () => {
    const image = await twoTone('jpeg', 300, 200, RED, WHITE);
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    // The worker's read of this upload fails (S3 503 on every SDK attempt) after it claimed the job.
    const fault = t.cloud.s3Gateway.faults.add({ method: 'GET', keyPrefix: `uploads/${job.jobId}`, status: 503, code: 'SlowDown', times: 3 });
    await uploadToPresignedUrl(job.upload, image);
    const done = await t.client.waitForJob(job.jobId, { minIntervalMs: 50 });
    expect(fault.hits).toBe(3);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect((done.result as { labels: { label: string }[] }).labels[0]!.label).toMatch(/white|red/);
  });

  it('marks the job failed on the final receive when the failure persists', async () => {
    const image = await twoTone('jpeg', 300, 200, RED, WHITE);
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    t.cloud.s3Gateway.faults.add({ method: 'GET', keyPrefix: `uploads/${job.jobId}`, status: 503, code: 'SlowDown', times: 1_000 });
    await uploadToPresignedUrl(job.upload, image);
    const done = await t.client.waitForJob(job.jobId, { minIntervalMs: 50 });
    t.cloud.s3Gateway.faults.clear();
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('internal');
    expect(done.error?.message).toMatch(/slow down|SlowDown|reduce/i);
    expect(done.attempts).toBe(2); // maxReceiveCount in this cloud
  });
});

describe('dead letters', () => {
  it('fails a job whose message reached the dead-letter queue without a final decision, with its last error', async () => {
    const image = await twoTone('jpeg', 300, 200, BLUE, WHITE);
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    // The first delivery fails after its claim and gives the job back (queued, with the error kept) …
    const fault = t.cloud.s3Gateway.faults.add({ method: 'GET', keyPrefix: `uploads/${job.jobId}`, status: 503, code: 'SlowDown', times: 1_000 });
    await uploadToPresignedUrl(job.upload, image);
    await waitFor(() => fault.hits >= 3);
    await t.cloud.eventSource.idle();
    expect((await t.client.getJob(job.jobId)).job.status).toBe('queued');
    // … and its message is dead-lettered before any other delivery decides (as after a crash on the last one).
    const body = JSON.stringify({ Records: [s3EventRecord({ bucket: t.cloud.endpoints.bucket, key: `uploads/${job.jobId}`, size: image.length, eventName: 'ObjectCreated:Put' }, 'us-east-1', 'test')] });
    await sqs.send(new SendMessageCommand({ QueueUrl: t.cloud.endpoints.dlqUrl, MessageBody: body }));
    const done = await t.client.waitForJob(job.jobId, { minIntervalMs: 50 });
    t.cloud.s3Gateway.faults.clear();
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('internal');
    expect(done.error?.message).toMatch(/^processing gave up after 2 deliveries: .*(slow down|SlowDown|reduce)/i);
  });
});

describe('user models dropped into the models folder', () => {
  it('lists and runs a MobileNetV2-shaped classifier (224×224, ImageNet mean/std, 1000 labels)', async () => {
    const models = await t.client.listModels();
    expect(models.map((m) => m.name)).toEqual(expect.arrayContaining(['onnx/colors', 'onnx/mobilenet', LONG_LABEL_MODEL]));
    const image = await twoTone('jpeg', 1024, 768, GREEN, BLUE);
    const job = await submitBytes(t.client, image, 'image/jpeg', { model: 'onnx/mobilenet' });
    expect(job.status).toBe('succeeded');
    const result = job.result as { model: string; labels: { label: string; score: number }[] };
    expect(result.model).toBe('onnx/mobilenet');
    expect(result.labels).toHaveLength(5);
    expect(result.labels[0]!.label).toMatch(/^class_\d+$/);
    const scores = result.labels.map((l) => l.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(scores.every((s) => s > 0 && s < 1)).toBe(true);
  });

  it('stores a result over the inline limit in S3 and returns a presigned resultUrl', async () => {
    const image = await twoTone('png', 256, 256, RED, GREEN);
    const job = await submitBytes(t.client, image, 'image/png', { model: LONG_LABEL_MODEL, params: { topK: 100 } });
    expect(job.status).toBe('succeeded');
    expect(job.result).toBeUndefined();
    expect(job.resultUrl).toMatch(/results%2F|results\//);
    const response = await fetch(job.resultUrl!);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { kind: string; labels: unknown[] };
    expect(body.kind).toBe('classification');
    expect(body.labels).toHaveLength(100);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
