import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '#shared/auth/api-keys.ts';
import { documentClient } from '#shared/aws.ts';
import type { StatusCounts } from '#shared/jobs/batch-status.ts';
import { PipelineClient, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { LIMITS } from '#shared/config.ts';
import { BLUE, GREEN, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/** POST /v1/batches and GET /v1/batches/{id}, against the local cloud. */

let t: TestCloud;
let api: string;
let otherKey: string;

beforeAll(async () => {
  t = await startTestCloud();
  api = t.cloud.endpoints.apiUrl;
  otherKey = (await createApiKey('batch-other-owner', 'test')).key;
});
afterAll(() => t?.stop());

async function call(method: string, path: string, options: { body?: unknown; key?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(api + path, {
    method,
    headers: {
      'x-api-key': options.key ?? t.cloud.endpoints.apiKey,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const item = (contentLength = 1000, contentType = 'image/jpeg') => ({ contentType, contentLength });
const items = (n: number) => Array.from({ length: n }, (_, i) => item(1000 + i));

/** Poll the batch until `until` holds for it (or fail after a while). */
async function pollBatch(batchId: string, until: (counts: StatusCounts) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await call('GET', `/v1/batches/${batchId}`);
    expect(res.status).toBe(200);
    if (until(res.body.counts)) return res;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still at ${JSON.stringify(res.body.counts)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('POST /v1/batches', () => {
  it('creates one job per item, each with its own presigned upload, in the order of the items', async () => {
    const res = await call('POST', '/v1/batches', { body: { items: [item(10), item(20, 'image/png'), { ...item(30), metadata: { name: 'c' } }] } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/batches/${res.body.batchId}`);
    expect(res.body).toMatchObject({ model: 'onnx/colors', total: 3 });
    expect(res.body.jobs).toHaveLength(3);
    expect(new Set(res.body.jobs.map((j: { jobId: string }) => j.jobId)).size).toBe(3);
    expect(res.body.jobs.map((j: { upload: { headers: Record<string, string> } }) => j.upload.headers)).toEqual([
      { 'content-type': 'image/jpeg', 'content-length': '10' },
      { 'content-type': 'image/png', 'content-length': '20' },
      { 'content-type': 'image/jpeg', 'content-length': '30' },
    ]);
    const job = (await t.client.getJob(res.body.jobs[2].jobId)).job;
    expect(job).toMatchObject({ status: 'awaiting_upload', batchId: res.body.batchId, metadata: { name: 'c' } });
  });

  it(`creates ${LIMITS.BATCH_MAX_ITEMS} items and refuses ${LIMITS.BATCH_MAX_ITEMS + 1} with 413 naming the limit`, async () => {
    const full = await call('POST', '/v1/batches', { body: { items: items(LIMITS.BATCH_MAX_ITEMS) } });
    expect(full.status).toBe(201);
    expect(full.body.jobs).toHaveLength(LIMITS.BATCH_MAX_ITEMS);
    const over = await call('POST', '/v1/batches', { body: { items: items(LIMITS.BATCH_MAX_ITEMS + 1) } });
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('payload_too_large');
    expect(over.body.error.message).toMatch(`at most ${LIMITS.BATCH_MAX_ITEMS} items`);
    expect(over.body.error.details).toEqual({ maxItems: LIMITS.BATCH_MAX_ITEMS, items: LIMITS.BATCH_MAX_ITEMS + 1 });
  });

  it('refuses the whole batch when an item is invalid, naming every refused item by index', async () => {
    const res = await call('POST', '/v1/batches', {
      body: { items: [item(), item(51 * 1024 * 1024), item(), item(100, 'image/svg+xml')] },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect(res.body.error.message).toMatch(/^items\[1\]: .*\(and 1 more items refused\)$/);
    expect(res.body.error.details).toMatchObject([
      { index: 1, code: 'payload_too_large' },
      { index: 3, code: 'unsupported_media_type' },
    ]);
    const svg = await call('POST', '/v1/batches', { body: { items: [item(), item(100, 'image/svg+xml')] } });
    expect(svg.status).toBe(415);
    expect(svg.body.error.details).toMatchObject([{ index: 1, code: 'unsupported_media_type' }]);
  });

  it.each([
    ['no items', { items: [] }, 400, 'bad_request'],
    ['an item without contentLength', { items: [item(), { contentType: 'image/png' }] }, 400, 'bad_request'],
    ['an unknown field in an item', { items: [{ ...item(), colour: 'red' }] }, 400, 'bad_request'],
    ['an unknown model', { model: 'onnx/nope', items: [item()] }, 422, 'unknown_model'],
    ['an unknown param', { params: { temperature: 1 }, items: [item()] }, 400, 'bad_request'],
  ])('refuses %s', async (_what, body, status, code) => {
    const res = await call('POST', '/v1/batches', { body });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it('names the item in schema errors', async () => {
    const res = await call('POST', '/v1/batches', { body: { items: [item(), item(), { contentType: 'image/png', contentLength: -1 }] } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'items.2.contentLength' })]);
  });
});

describe('Idempotency-Key on batches', () => {
  it('returns the same batch and jobs for the same key, and refuses the key for another request', async () => {
    const key = `batch-${Date.now()}`;
    const body = { items: items(3) };
    const first = await call('POST', '/v1/batches', { body, headers: { 'idempotency-key': key } });
    const again = await call('POST', '/v1/batches', { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.batchId).toBe(first.body.batchId);
    expect(again.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(first.body.jobs.map((j: { jobId: string }) => j.jobId));
    expect(again.body.jobs.every((j: { upload?: unknown }) => j.upload)).toBe(true);

    const other = await call('POST', '/v1/batches', { body: { items: items(2) }, headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_mismatch');
    const theirs = await call('POST', '/v1/batches', { key: otherKey, body, headers: { 'idempotency-key': key } });
    expect(theirs.status).toBe(201);
    expect(theirs.body.batchId).not.toBe(first.body.batchId);
    // A single job with the same key is not one of the batch's jobs.
    const single = await call('POST', '/v1/jobs', { body: item(1000), headers: { 'idempotency-key': key } });
    expect(single.status).toBe(201);
    expect(first.body.jobs.map((j: { jobId: string }) => j.jobId)).not.toContain(single.body.jobId);
  });

  it('completes a half-written batch on retry with the same key, duplicating nothing', async () => {
    const key = `half-${Date.now()}`;
    const body = { items: items(5) };
    const first = await call('POST', '/v1/batches', { body, headers: { 'idempotency-key': key } });
    const ids: string[] = first.body.jobs.map((j: { jobId: string }) => j.jobId);
    // What a create that died after its second job write leaves behind.
    for (const jobId of ids.slice(2)) {
      await documentClient().send(new DeleteCommand({ TableName: t.cloud.endpoints.table, Key: { pk: `job#${jobId}` } }));
    }
    const partial = await call('GET', `/v1/batches/${first.body.batchId}`);
    expect(partial.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(ids.slice(0, 2));

    const retry = await call('POST', '/v1/batches', { body, headers: { 'idempotency-key': key } });
    expect(retry.status).toBe(200);
    expect(retry.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(ids);
    const whole = await call('GET', `/v1/batches/${first.body.batchId}`);
    expect(whole.body).toMatchObject({ total: 5, counts: { awaiting_upload: 5 } });
    expect(whole.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(ids);
  });

  it('replays a batch whose jobs have moved on without handing out their upload URLs again', async () => {
    const image = await twoTone('png', 32, 32, GREEN, GREEN);
    const key = `moved-${Date.now()}`;
    const body = { items: [item(image.length, 'image/png'), item(500)] };
    const first = await call('POST', '/v1/batches', { body, headers: { 'idempotency-key': key } });
    await uploadToPresignedUrl(first.body.jobs[0].upload, image);
    await pollBatch(first.body.batchId, (c) => c.succeeded === 1);
    const again = await call('POST', '/v1/batches', { body, headers: { 'idempotency-key': key } });
    expect(again.body.jobs[0]).toEqual({ jobId: first.body.jobs[0].jobId, status: 'succeeded' });
    expect(again.body.jobs[1]).toMatchObject({ jobId: first.body.jobs[1].jobId, status: 'awaiting_upload', upload: { method: 'PUT' } });
  });
});

describe('GET /v1/batches/{batchId}', () => {
  it('counts the jobs by status and shows each result or error, with Retry-After until all have ended', async () => {
    const red = await twoTone('jpeg', 48, 48, RED, RED);
    const blue = await twoTone('webp', 48, 48, BLUE, BLUE);
    const notAnImage = Buffer.from('this is not an image, whatever its name says');
    const created = await t.client.createBatch({
      items: [
        { contentType: 'image/jpeg', contentLength: red.length, metadata: { name: 'red.jpg' } },
        { contentType: 'image/webp', contentLength: blue.length },
        { contentType: 'image/jpeg', contentLength: notAnImage.length },
        { contentType: 'image/png', contentLength: 4000 },
      ],
    });
    const jobs = created.batch.jobs;
    await Promise.all([
      uploadToPresignedUrl(jobs[0]!.upload!, red),
      uploadToPresignedUrl(jobs[1]!.upload!, blue),
      uploadToPresignedUrl(jobs[2]!.upload!, notAnImage),
    ]);
    const res = await pollBatch(created.batch.batchId, (c) => c.succeeded + c.failed === 3);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.body).toMatchObject({
      batchId: created.batch.batchId,
      model: 'onnx/colors',
      total: 4,
      done: false,
      counts: { awaiting_upload: 1, queued: 0, running: 0, succeeded: 2, failed: 1, canceled: 0, expired: 0 },
    });
    expect(Date.parse(res.body.createdAt)).not.toBeNaN();
    const [r, b, bad, waiting] = res.body.jobs;
    expect(r).toMatchObject({ index: 0, jobId: jobs[0]!.jobId, status: 'succeeded', metadata: { name: 'red.jpg' } });
    expect(r.result.labels[0].label).toBe('red');
    expect(b.result.labels[0].label).toBe('blue');
    expect(bad).toMatchObject({ index: 2, status: 'failed', error: { code: 'unsupported_media' } });
    // Each job in a batch is shown as GET /v1/jobs/{id} shows it, with its place in the request.
    expect(waiting).toMatchObject({ index: 3, jobId: jobs[3]!.jobId, status: 'awaiting_upload', batchId: created.batch.batchId, links: { self: `/v1/jobs/${jobs[3]!.jobId}` } });
    expect(waiting).not.toHaveProperty('result');

    await t.client.cancelJob(jobs[3]!.jobId);
    const { batch, retryAfterMs } = await t.client.getBatch(created.batch.batchId);
    expect(batch.done).toBe(true);
    expect(batch.counts.canceled).toBe(1);
    expect(retryAfterMs).toBeUndefined();
  });

  it('pages through the jobs with limit and cursor, counting all of them on every page', async () => {
    const created = (await t.client.createBatch({ items: items(7) })).batch;
    const seen: string[] = [];
    let cursor: string | undefined;
    const sizes: number[] = [];
    do {
      const { batch } = await t.client.getBatch(created.batchId, { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(batch.total).toBe(7);
      expect(batch.counts.awaiting_upload).toBe(7);
      sizes.push(batch.jobs.length);
      seen.push(...batch.jobs.map((j) => j.jobId));
      expect(batch.jobs.map((j) => j.index)).toEqual(batch.jobs.map((_, i) => seen.length - batch.jobs.length + i));
      cursor = batch.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual(created.jobs.map((j) => j.jobId));

    const bad = await call('GET', `/v1/batches/${created.batchId}?cursor=not-a-cursor`);
    expect(bad.status).toBe(400);
    const zero = await call('GET', `/v1/batches/${created.batchId}?limit=0`);
    expect(zero.status).toBe(400);
    expect(zero.body.error.message).toMatch(/limit/);
  });

  it("returns 404 for another owner's batch, as for an unknown id", async () => {
    const created = (await t.client.createBatch({ items: items(1) })).batch;
    const other = new PipelineClient(api, otherKey);
    const refusal = await other.getBatch(created.batchId).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ status: 404, code: 'not_found' });
    const unknown = await call('GET', '/v1/batches/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('no batch 00000000-0000-4000-8000-000000000000');
    expect((await call('GET', '/v1/batches/not-an-id')).status).toBe(404);
    // A job id is not a batch id.
    expect((await call('GET', `/v1/batches/${created.jobs[0]!.jobId}`)).status).toBe(404);
    expect((await t.client.getBatch(created.batchId)).batch.total).toBe(1);
  });
});
