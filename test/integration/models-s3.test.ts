import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireCatalog } from '#shared/inference/catalog.ts';
import { LOCAL_RESOURCES } from '../../scripts/local-cloud/cloud.ts';
import { BLUE, twoTone, WHITE } from '../helpers/images.ts';
import { startTestCloud, submitBytes, type TestCloud } from '../helpers/local-cloud.ts';

/** Models too big to bundle live in the bucket under MODELS_S3_PREFIX; the worker caches them locally. */

let t: TestCloud;
let cacheDir: string;

beforeAll(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'model-cache-'));
  t = await startTestCloud({ env: { MODELS_S3_PREFIX: 'models/', MODELS_CACHE_DIR: cacheDir } });
  const s3 = new S3Client({
    region: LOCAL_RESOURCES.region,
    endpoint: t.cloud.endpoints.s3,
    forcePathStyle: true,
    credentials: LOCAL_RESOURCES.credentials,
  });
  const put = (key: string, body: Buffer | string) => s3.send(new PutObjectCommand({ Bucket: t.cloud.endpoints.bucket, Key: key, Body: body }));
  const manifest = JSON.parse(readFileSync('models/colors.json', 'utf8'));
  await put('models/bucket-colors.onnx', readFileSync('models/colors.onnx'));
  await put('models/bucket-colors.json', JSON.stringify({ ...manifest, file: 'bucket-colors.onnx', description: 'colours, from the bucket' }));
  await put('models/no-weights.json', JSON.stringify({ ...manifest, file: 'absent.onnx' }));
  s3.destroy();
  // The worker read the (then empty) bucket at init; a process notices new models within
  // CATALOG_REFRESH_MS, which this test does not wait out.
  expireCatalog();
});

afterAll(async () => {
  await t?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('models in the bucket', () => {
  it('lists them beside the bundled ones, and one without weights as unavailable with why', async () => {
    const models = await t.client.listModels();
    expect(models.find((m) => m.name === 'onnx/bucket-colors')).toMatchObject({ available: true, description: 'colours, from the bucket' });
    expect(models.find((m) => m.name === 'onnx/colors')?.available).toBe(true);
    const broken = models.find((m) => m.name === 'onnx/no-weights');
    expect(broken?.available).toBe(false);
    expect(broken?.reason).toContain('absent.onnx is missing');
  });

  it('runs one, fetching its weights once into the cache', async () => {
    const first = await submitBytes(t.client, await twoTone('png', 64, 64, BLUE, WHITE, 0.75), 'image/png', { model: 'onnx/bucket-colors' });
    expect(first.status).toBe('succeeded');
    expect((first.result as { labels: { label: string }[] }).labels[0]!.label).toBe('blue');
    const cached = readdirSync(cacheDir);
    expect(cached).toHaveLength(1);
    expect(cached[0]).toMatch(/^onnx_bucket_colors-[0-9a-f]+\.onnx$/);
    const second = await submitBytes(t.client, await twoTone('png', 64, 64, WHITE, BLUE, 0.75), 'image/png', { model: 'onnx/bucket-colors' });
    expect((second.result as { labels: { label: string }[] }).labels[0]!.label).toBe('white');
    expect(readdirSync(cacheDir)).toEqual(cached);
  });
});
