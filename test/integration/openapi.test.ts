import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '#functions/api/openapi.ts';
import { RESPONSE_HEADERS } from '#functions/api/route-docs.ts';
import { uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { closedWorld, declaredResponse, type OpenApiDoc, schemaChecker } from '../helpers/openapi.ts';
import { RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * Real replies of the local cloud checked against the OpenAPI description it serves: each body
 * against the schema the document declares for its route and status, each notable header as
 * declared there. The schemas are closed for the check, so a field the API sends but the document
 * does not name fails here.
 */

let t: TestCloud;
let doc: OpenApiDoc;
let checker: ReturnType<typeof schemaChecker>;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function call(method: string, path: string, options: { body?: unknown; key?: string | null; headers?: Record<string, string>; path?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers['x-api-key'] = options.key ?? t.cloud.endpoints.apiKey;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(t.cloud.endpoints.apiUrl + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** The reply is one the document declares for this route: status, media type, body schema and headers. */
function expectDocumented(route: `${'GET' | 'POST' | 'DELETE'} ${string}`, reply: Reply): unknown {
  const [method, path] = route.split(' ') as [string, string];
  const declared = declaredResponse(doc, path, method, reply.status) as
    | { headers?: Record<string, unknown>; content: Record<string, { schema: { $ref?: string } }> }
    | undefined;
  expect(declared, `${route} declares ${reply.status}`).toBeDefined();
  const mediaType = reply.headers.get('content-type')!.split(';')[0]!;
  const content = declared!.content[mediaType];
  expect(content, `${route} ${reply.status} declares ${mediaType}`).toBeDefined();
  for (const name of Object.keys(RESPONSE_HEADERS)) {
    if (reply.headers.has(name)) expect(Object.keys(declared!.headers ?? {}), `${route} ${reply.status} sends ${name}`).toContain(name);
  }
  if (mediaType !== 'application/json') return reply.text;
  const body: unknown = JSON.parse(reply.text);
  const ref = content!.schema.$ref;
  if (ref) expect(checker.errorsAt(ref.slice(1), body), `${route} ${reply.status}: ${reply.text.slice(0, 300)}`).toEqual([]);
  return body;
}

const image = () => twoTone('png', 32, 32, RED, RED);

beforeAll(async () => {
  t = await startTestCloud();
  const served = await call('GET', '/v1/openapi.json', { key: null });
  expect(served.status).toBe(200);
  doc = JSON.parse(served.text) as OpenApiDoc;
  checker = schemaChecker(closedWorld(doc));
});
afterAll(() => t?.stop());

describe('replies match the OpenAPI description', () => {
  it('serves the description without a key, as built from the schemas', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('GET /v1/health and GET /v1/models', async () => {
    expect(expectDocumented('GET /v1/health', await call('GET', '/v1/health', { key: null }))).toEqual({ status: 'ok' });
    const models = expectDocumented('GET /v1/models', await call('GET', '/v1/models')) as { models: { name: string }[] };
    expect(models.models.map((m) => m.name)).toContain('onnx/colors');
  });

  it('GET / (the page)', async () => {
    const page = await call('GET', '/', { key: null });
    expect(page.status).toBe(200);
    expect(expectDocumented('GET /', page)).toMatch(/^<!doctype html>/i);
  });

  it('a job: created (201, Location), awaiting its upload (Retry-After), succeeded with a result, replayed (200), canceled', async () => {
    const bytes = await image();
    const headers = { 'idempotency-key': `openapi-${Date.now()}` };
    const body = { contentType: 'image/png', contentLength: bytes.length, params: { topK: 2 }, metadata: { test: 'openapi' } };
    const createdReply = await call('POST', '/v1/jobs', { body, headers });
    expect(createdReply.status).toBe(201);
    expect(createdReply.headers.get('location')).toMatch(/^\/v1\/jobs\//);
    const created = expectDocumented('POST /v1/jobs', createdReply) as { jobId: string; upload: Parameters<typeof uploadToPresignedUrl>[0] };

    const waiting = await call('GET', `/v1/jobs/${created.jobId}`);
    expect(waiting.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(expectDocumented('GET /v1/jobs/{jobId}', waiting)).toMatchObject({ status: 'awaiting_upload' });

    await uploadToPresignedUrl(created.upload, bytes);
    await t.client.waitForJob(created.jobId, { timeoutMs: 45_000 });
    const done = await call('GET', `/v1/jobs/${created.jobId}`);
    expect(done.headers.has('retry-after')).toBe(false);
    expect(expectDocumented('GET /v1/jobs/{jobId}', done)).toMatchObject({ status: 'succeeded', result: { kind: 'classification' } });

    const replay = await call('POST', '/v1/jobs', { body, headers });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expectDocumented('POST /v1/jobs', replay);

    const other = await t.client.createJob({ contentType: 'image/png', contentLength: 10 });
    expect(expectDocumented('DELETE /v1/jobs/{jobId}', await call('DELETE', `/v1/jobs/${other.jobId}`))).toMatchObject({ status: 'canceled' });
    const again = await call('DELETE', `/v1/jobs/${other.jobId}`);
    expect(again.status).toBe(409);
    expectDocumented('DELETE /v1/jobs/{jobId}', again);
  });

  it('a batch: created (201), polled one page at a time (nextCursor), a page limit refused (400), replayed (200)', async () => {
    const headers = { 'idempotency-key': `openapi-batch-${Date.now()}` };
    const body = { model: 'onnx/colors', items: [{ contentType: 'image/png', contentLength: 10 }, { contentType: 'image/jpeg', contentLength: 20, metadata: { n: '2' } }] };
    const createdReply = await call('POST', '/v1/batches', { body, headers });
    expect(createdReply.status).toBe(201);
    const batch = expectDocumented('POST /v1/batches', createdReply) as { batchId: string };
    const page = await call('GET', `/v1/batches/${batch.batchId}?limit=1`);
    expect(expectDocumented('GET /v1/batches/{batchId}', page)).toMatchObject({ total: 2, jobs: [{ index: 0 }], nextCursor: expect.any(String) });
    const refused = await call('GET', `/v1/batches/${batch.batchId}?limit=0`);
    expect(refused.status).toBe(400);
    expect(expectDocumented('GET /v1/batches/{batchId}', refused)).toMatchObject({ error: { code: 'bad_request', details: [{ path: 'limit' }] } });
    const replay = await call('POST', '/v1/batches', { body, headers });
    expect(replay.status).toBe(200);
    expectDocumented('POST /v1/batches', replay);
  });

  it.each([
    ['400 for a body that is not JSON', 'POST /v1/jobs', { body: '{not json' }, 400, 'bad_request'],
    ['400 for a field the schema does not know', 'POST /v1/jobs', { body: { contentType: 'image/png', contentLength: 1, colour: 'red' } }, 400, 'bad_request'],
    ['401 without a key', 'GET /v1/models', { key: null }, 401, 'unauthorized'],
    ['404 for an unknown job', 'GET /v1/jobs/{jobId}', { path: '/v1/jobs/00000000-0000-4000-8000-000000000000' }, 404, 'not_found'],
    ['404 for an unknown batch', 'GET /v1/batches/{batchId}', { path: '/v1/batches/00000000-0000-4000-8000-000000000000' }, 404, 'not_found'],
    ['413 for an upload over the limit', 'POST /v1/jobs', { body: { contentType: 'image/png', contentLength: 10 ** 12 } }, 413, 'payload_too_large'],
    ['415 for a type not accepted', 'POST /v1/jobs', { body: { contentType: 'image/bmp', contentLength: 10 } }, 415, 'unsupported_media_type'],
    ['415 naming the refused batch item', 'POST /v1/batches', { body: { items: [{ contentType: 'image/png', contentLength: 1 }, { contentType: 'text/plain', contentLength: 1 }] } }, 415, 'unsupported_media_type'],
    ['422 for an unknown model', 'POST /v1/jobs', { body: { model: 'onnx/nope', contentType: 'image/png', contentLength: 10 } }, 422, 'unknown_model'],
  ] as const)('%s', async (_what, route, request, status, code) => {
    const [method, template] = route.split(' ') as [string, string];
    const reply = await call(method, 'path' in request ? request.path : template, request);
    expect(reply.status).toBe(status);
    expect(expectDocumented(route, reply)).toMatchObject({ error: { code } });
  });
});
