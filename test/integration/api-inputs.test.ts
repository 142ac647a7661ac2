import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorResponse } from '#functions/api/http.ts';
import { createApiKey } from '#shared/auth/api-keys.ts';
import { documentClient } from '#shared/aws.ts';
import { getConfig } from '#shared/config.ts';
import { ApiError } from '#shared/errors.ts';
import { getBatch, getJobs } from '#shared/jobs/batch-store.ts';
import { submitBatch } from '#shared/jobs/create-batch.ts';
import { idempotentBatchIds } from '#shared/jobs/idempotency.ts';
import { jobKey } from '#shared/jobs/items.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { sendRaw } from '../helpers/raw-http.ts';

/**
 * Inputs a hostile client sends (issue "No input gets a 500, and a refused request leaves nothing
 * half-made"): each case as it was reported, against the local cloud with raw HTTP bodies, since
 * a `__proto__` key cannot be written as an object literal.
 */

const OWNER = 'inputs-owner';
let t: TestCloud;
let api: string;
let key: string;

beforeAll(async () => {
  t = await startTestCloud();
  api = t.cloud.endpoints.apiUrl;
  key = (await createApiKey(OWNER, 'test')).key;
});
afterAll(() => t?.stop());

const send = (method: string, path: string, body?: string, headers: Record<string, string> = {}) => sendRaw(api, key, method, path, body, headers);

const item = (metadata: string) => `{"contentType":"image/jpeg","contentLength":1000,"metadata":${metadata}}`;

describe('metadata keys the DynamoDB marshaller treats specially', () => {
  it('stores and returns a "constructor" metadata key (was 500: Cannot convert object to primitive value)', async () => {
    const created = await send('POST', '/v1/jobs', item('{"constructor":"y","toString":"z"}'));
    expect(created.status).toBe(201);
    const read = await send('GET', `/v1/jobs/${created.body.jobId}`);
    expect(read.status).toBe(200);
    expect(Object.entries(read.body.metadata)).toEqual([['constructor', 'y'], ['toString', 'z']]);
  });

  it('keeps a "__proto__" metadata key as sent (was dropped silently)', async () => {
    const created = await send('POST', '/v1/jobs', item('{"__proto__":"p","a":"b"}'));
    expect(created.status).toBe(201);
    const read = await send('GET', `/v1/jobs/${created.body.jobId}`);
    // JSON.parse makes `__proto__` an own key; the entries show it is there, in order.
    expect(Object.entries(read.body.metadata)).toEqual([['__proto__', 'p'], ['a', 'b']]);
  });

  it('refuses a metadata value that is not a string with 400 naming its key', async () => {
    const refused = await send('POST', '/v1/jobs', item('{"__proto__":{"x":"1"}}'));
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([{ path: 'metadata.__proto__', message: 'a metadata value must be a string' }]);
  });
});

describe('params', () => {
  it('refuses a "__proto__" param as unknown with 400 naming params.__proto__ (was 201 with params {})', async () => {
    const refused = await send('POST', '/v1/jobs', '{"contentType":"image/jpeg","contentLength":1000,"params":{"__proto__":{"topK":1000}}}');
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('bad_request');
    expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'params.__proto__' })]);
  });

  it('refuses a "constructor" param in a batch the same way', async () => {
    const refused = await send('POST', '/v1/batches', `{"params":{"constructor":1},"items":[${item('{}')}]}`);
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'params.constructor' })]);
  });
});

describe('POST /v1/batches: all or nothing', () => {
  it('creates a batch whose item has a "constructor" metadata key, whole (was 500 and a batch of 2 with 1 job, forever)', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = `{"items":[${item('{"a":"b"}')},${item('{"constructor":"y"}')}]}`;
    const created = await send('POST', '/v1/batches', body, headers);
    expect(created.status).toBe(201);
    const read = await send('GET', `/v1/batches/${created.body.batchId}`);
    expect(read.body).toMatchObject({ total: 2, counts: { awaiting_upload: 2 } });
    expect(read.body.jobs.map((j: { metadata: object }) => Object.entries(j.metadata))).toEqual([[['a', 'b']], [['constructor', 'y']]]);
    const replay = await send('POST', '/v1/batches', body, headers);
    expect(replay.status).toBe(200);
    expect(replay.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(created.body.jobs.map((j: { jobId: string }) => j.jobId));
  });

  it('shows no batch when a job write fails, and the retry with the same key completes it', async () => {
    const idempotencyKey = randomUUID();
    const { batchId, jobIds } = idempotentBatchIds(OWNER, idempotencyKey, 3);
    // Another request's job already holds item 1's id: its write is refused half-way through the batch.
    const blocker = { ...jobKey(jobIds[1]!), jobId: jobIds[1]!, ownerId: OWNER, status: 'awaiting_upload', requestHash: 'other' };
    await documentClient().send(new PutCommand({ TableName: getConfig().TABLE_NAME, Item: blocker }));
    const body = `{"items":[${item('{"i":"0"}')},${item('{"i":"1"}')},${item('{"i":"2"}')}]}`;

    const failed = await send('POST', '/v1/batches', body, { 'idempotency-key': idempotencyKey });
    expect(failed.status).toBe(422);
    expect((await send('GET', `/v1/batches/${batchId}`)).status).toBe(404);

    await documentClient().send(new DeleteCommand({ TableName: getConfig().TABLE_NAME, Key: jobKey(jobIds[1]!) }));
    const retried = await send('POST', '/v1/batches', body, { 'idempotency-key': idempotencyKey });
    expect(retried.status).toBe(201);
    expect(retried.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(jobIds);
    const read = await send('GET', `/v1/batches/${batchId}`);
    expect(read.body).toMatchObject({ total: 3, counts: { awaiting_upload: 3 } });
    expect(read.body.jobs).toHaveLength(3);
  });

  it('leaves nothing behind when a job write fails without a key', async () => {
    const marker = randomUUID();
    const job = (metadata: Record<string, string>) => ({ model: 'onnx/colors', contentType: 'image/jpeg', contentLength: 1000, metadata });
    // Past the schema (called as the use case): item 1 is over DynamoDB's 400 KB item limit, so the table refuses it.
    const request = { model: 'onnx/colors', items: [job({ marker }), job({ marker, big: 'x'.repeat(500_000) }), job({ marker })] };
    await expect(submitBatch(OWNER, request)).rejects.toThrow();

    const left = await documentClient().send(new ScanCommand({ TableName: getConfig().TABLE_NAME }));
    const written = (left.Items ?? []).filter((i) => JSON.stringify(i).includes(marker));
    expect(written).toEqual([]);
  });

  it('keeps nothing of a refused batch readable: its id names no batch and no jobs', async () => {
    const idempotencyKey = randomUUID();
    const { batchId, jobIds } = idempotentBatchIds(OWNER, idempotencyKey, 2);
    const refused = await send('POST', '/v1/batches', `{"items":[${item('{"a":"b"}')},${item('{"a":1}')}]}`, { 'idempotency-key': idempotencyKey });
    expect(refused.status).toBe(400);
    expect(await getBatch(batchId)).toBeUndefined();
    expect((await getJobs(jobIds)).size).toBe(0);
  });
});

describe('paths that do not percent-decode', () => {
  it.each([
    ['GET', '/v1/jobs/%zz'],
    ['DELETE', '/v1/jobs/%E0%A4%A'],
    ['GET', '/v1/batches/%zz'],
    ['GET', '/v1/jobs/%ED%A0%80'],
  ])('answers %s %s with 404 in the error shape (was 500: URIError)', async (method, path) => {
    const res = await send(method, path);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: expect.stringContaining('percent-encoding') } });
  });
});

describe('a body over the HTTP API limit', () => {
  it("is refused 413 by the gateway in API Gateway's own shape, as the README says", async () => {
    const res = await send('POST', '/v1/jobs', JSON.stringify({ contentType: 'image/jpeg', contentLength: 1, metadata: { a: 'x'.repeat(10 * 1024 * 1024) } }));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ message: 'Request Entity Too Large' });
  });
});

describe('an error the API did not expect', () => {
  it('is a 500 in the error shape naming the request id, even when a refusal cannot be serialized', () => {
    const reply = errorResponse(new ApiError('bad_request', 'x', { size: 1n }), 'req-1');
    expect(reply.statusCode).toBe(500);
    expect(JSON.parse(reply.body!)).toEqual({ error: { code: 'internal', message: 'internal error', details: { requestId: 'req-1' } } });
    expect(JSON.parse(errorResponse('not even an Error', 'req-2').body!).error.details).toEqual({ requestId: 'req-2' });
  });
});
