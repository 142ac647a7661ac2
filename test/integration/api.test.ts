import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '#shared/auth/api-keys.ts';
import { ApiRequestError, PipelineClient, UploadError, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { BLUE, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, submitBytes, type TestCloud } from '../helpers/local-cloud.ts';

/** The HTTP API v1 and presigned uploads, against the local cloud. */

let t: TestCloud;
let api: string;
let key: string;

beforeAll(async () => {
  t = await startTestCloud({ allowedOrigins: ['https://app.example'] });
  api = t.cloud.endpoints.apiUrl;
  key = t.cloud.endpoints.apiKey;
});
afterAll(() => t?.stop());

async function call(method: string, path: string, options: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers['x-api-key'] = options.key ?? key;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(api + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const validJob = { contentType: 'image/jpeg', contentLength: 1000 };

describe('authentication and ownership', () => {
  it('answers health without a key', async () => {
    const res = await call('GET', '/v1/health', { key: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('refuses a missing key with 401 in the error shape', async () => {
    const res = await call('POST', '/v1/jobs', { key: null, body: validJob });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.body.error.message).toMatch(/x-api-key/);
  });

  it('refuses a wrong key with 401 in the error shape', async () => {
    const res = await call('GET', '/v1/models', { key: 'aip_not-a-real-key' });
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'unauthorized', message: 'invalid or revoked API key' });
  });

  it("returns 404 for another owner's job, as for an unknown id", async () => {
    const mine = await t.client.createJob(validJob);
    const { key: otherKey } = await createApiKey('someone-else', 'test');
    const other = new PipelineClient(api, otherKey);
    const refusal = await other.getJob(mine.jobId).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ApiRequestError);
    expect((refusal as ApiRequestError).status).toBe(404);
    const cancel = await other.cancelJob(mine.jobId).catch((e: unknown) => e);
    expect((cancel as ApiRequestError).status).toBe(404);
    const unknown = await call('GET', '/v1/jobs/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    // The owner still sees it.
    expect((await t.client.getJob(mine.jobId)).job.jobId).toBe(mine.jobId);
  });
});

describe('POST /v1/jobs', () => {
  it('creates a job with a presigned PUT that signs content-type and content-length', async () => {
    const res = await call('POST', '/v1/jobs', { body: { ...validJob, metadata: { source: 'test' } } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.body.jobId}`);
    expect(res.body).toMatchObject({ status: 'awaiting_upload', model: 'onnx/colors', metadata: { source: 'test' } });
    expect(res.body.upload.method).toBe('PUT');
    expect(res.body.upload.headers).toEqual({ 'content-type': 'image/jpeg', 'content-length': '1000' });
    const signed = new URL(res.body.upload.url).searchParams.get('X-Amz-SignedHeaders')!.split(';');
    expect(signed).toEqual(expect.arrayContaining(['content-type', 'content-length', 'host']));
    expect(Date.parse(res.body.upload.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
  });

  it.each([
    ['not JSON', '{oops', 400, 'bad_request'],
    ['a missing contentLength', { contentType: 'image/png' }, 400, 'bad_request'],
    ['an unknown field', { ...validJob, colour: 'red' }, 400, 'bad_request'],
    ['a size over the limit', { contentType: 'image/png', contentLength: 51 * 1024 * 1024 }, 413, 'payload_too_large'],
    ['an SVG', { contentType: 'image/svg+xml', contentLength: 100 }, 415, 'unsupported_media_type'],
    ['a PDF', { contentType: 'application/pdf', contentLength: 100 }, 415, 'unsupported_media_type'],
    ['an unknown model', { ...validJob, model: 'onnx/nope' }, 422, 'unknown_model'],
    ['an unknown param', { ...validJob, params: { temperature: 1 } }, 400, 'bad_request'],
  ])('refuses %s', async (_what, body, status, code) => {
    const res = await call('POST', '/v1/jobs', { body });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
  });

  it('lets an Idempotency-Key of exactly the limit through to body validation', async () => {
    const res = await call('POST', '/v1/jobs', { body: { contentType: 'image/png', contentLength: -1 }, headers: { 'idempotency-key': 'k'.repeat(255) } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).not.toMatch(/Idempotency-Key/);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain('contentLength');
  });

  it('returns the same job for the same Idempotency-Key, and refuses its reuse for another request', async () => {
    const idempotencyKey = `test-${Date.now()}`;
    const first = await call('POST', '/v1/jobs', { body: validJob, headers: { 'idempotency-key': idempotencyKey } });
    const again = await call('POST', '/v1/jobs', { body: validJob, headers: { 'idempotency-key': idempotencyKey } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.jobId).toBe(first.body.jobId);
    expect(again.body.upload.url).toMatch(/X-Amz-Signature=/);
    const other = await call('POST', '/v1/jobs', { body: { ...validJob, contentLength: 2000 }, headers: { 'idempotency-key': idempotencyKey } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_mismatch');
    // Another owner's same key is another job.
    const { key: otherKey } = await createApiKey('idempotency-other', 'test');
    const theirs = await call('POST', '/v1/jobs', { key: otherKey, body: validJob, headers: { 'idempotency-key': idempotencyKey } });
    expect(theirs.status).toBe(201);
    expect(theirs.body.jobId).not.toBe(first.body.jobId);
  });
});

/** PUT with explicit headers (fetch would fix content-length itself). */
function rawPut(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve({ status: 0, body: '' }) : reject(error)));
    req.end(body);
  });
}

describe('presigned uploads are checked as S3 checks them', () => {
  it('refuses a PUT with another content-type (403) and the job stays awaiting_upload', async () => {
    const image = await twoTone('jpeg', 64, 64, RED, BLUE);
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    const res = await rawPut(job.upload.url, { 'content-type': 'image/png', 'content-length': String(image.length) }, image);
    expect(res.status).toBe(403);
    expect(res.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect((await t.client.getJob(job.jobId)).job.status).toBe('awaiting_upload');
  });

  it('refuses a PUT of another length (403) and the job stays awaiting_upload', async () => {
    const image = await twoTone('jpeg', 64, 64, RED, BLUE);
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length + 10 });
    const res = await rawPut(job.upload.url, { 'content-type': 'image/jpeg', 'content-length': String(image.length) }, image);
    expect(res.status).toBe(403);
    const { job: after, retryAfterMs } = await t.client.getJob(job.jobId);
    expect(after.status).toBe('awaiting_upload');
    expect(retryAfterMs).toBe(1000);
  });

  it('refuses an expired URL (403)', async () => {
    const image = await twoTone('jpeg', 64, 64, RED, BLUE);
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    t.cloud.s3Gateway.clock.offsetMs = 16 * 60_000; // past the 15-minute URL lifetime
    try {
      const refusal = await uploadToPresignedUrl(job.upload, image).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(UploadError);
      expect((refusal as UploadError).status).toBe(403);
      expect((refusal as UploadError).code).toBe('AccessDenied');
    } finally {
      t.cloud.s3Gateway.clock.offsetMs = 0;
    }
    expect((await t.client.getJob(job.jobId)).job.status).toBe('awaiting_upload');
  });
});

describe('job status and cancellation', () => {
  it('reports a finished job without Retry-After, with its timestamps', async () => {
    const job = await submitBytes(t.client, await twoTone('png', 32, 32, RED, RED), 'image/png');
    const res = await call('GET', `/v1/jobs/${job.jobId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.body.status).toBe('succeeded');
    for (const field of ['createdAt', 'updatedAt', 'startedAt', 'completedAt']) expect(Date.parse(res.body[field])).not.toBeNaN();
    expect(res.body.result.labels[0].label).toBe('red');
  });

  it('cancels a job awaiting its upload, and refuses to cancel it twice', async () => {
    const job = await t.client.createJob(validJob);
    const canceled = await call('DELETE', `/v1/jobs/${job.jobId}`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expect(canceled.body.error.code).toBe('canceled');
    const again = await call('DELETE', `/v1/jobs/${job.jobId}`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  it('does not process an upload for a canceled job', async () => {
    const image = await twoTone('png', 32, 32, RED, BLUE);
    const job = await t.client.createJob({ contentType: 'image/png', contentLength: image.length });
    await t.client.cancelJob(job.jobId);
    await uploadToPresignedUrl(job.upload, image);
    await t.cloud.eventSource.idle();
    await new Promise((r) => setTimeout(r, 300));
    await t.cloud.eventSource.idle();
    const after = (await t.client.getJob(job.jobId)).job;
    expect(after.status).toBe('canceled');
    expect(after.attempts).toBe(0);
  });
});

describe('routes and CORS', () => {
  it('lists the served models with their params', async () => {
    const res = await call('GET', '/v1/models');
    expect(res.status).toBe(200);
    const colors = res.body.models.find((m: { name: string }) => m.name === 'onnx/colors');
    expect(colors).toMatchObject({ kind: 'onnx', available: true, default: true });
    expect(colors.params).toHaveProperty('topK');
  });

  it('answers unknown routes and methods as API Gateway does (the stack has no $default route)', async () => {
    const missing = await call('GET', '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: 'Not Found' });
    const method = await call('PUT', '/v1/jobs');
    expect(method.status).toBe(404);
    expect(method.body).toEqual({ message: 'Not Found' });
  });

  it('answers a browser preflight and exposes Retry-After to allowed origins only', async () => {
    const preflight = await fetch(`${api}/v1/jobs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-api-key');
    const allowed = await fetch(`${api}/v1/health`, { headers: { origin: 'https://app.example' } });
    expect(allowed.headers.get('access-control-expose-headers')).toContain('retry-after');
    const other = await fetch(`${api}/v1/health`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
