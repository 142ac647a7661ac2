import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '#shared/auth/api-keys.ts';
import { idempotentBatchIds } from '#shared/jobs/idempotency.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { hasRoute } from '../../scripts/local-cloud/http-gateway.ts';
import { type RawReply, sendRaw } from '../helpers/raw-http.ts';

/**
 * The API against generated hostile input, over raw HTTP to the local cloud: JSON bodies and
 * non-JSON ones, metadata and params with prototype-named keys, deep nesting, huge strings, odd
 * Unicode and lone surrogates, odd headers and undecodable paths. For every request:
 * - no 5xx;
 * - every refusal in the error shape {"error":{"code","message"}} (API Gateway's own 413 for an
 *   oversized body aside, which the generators stay under);
 * - a created job keeps its metadata key for key;
 * - no batch left half-made: after each batch request, its id names no batch or a whole one.
 *
 * Seeded (FUZZ_SEED, default below) and FUZZ_RUNS cases per property (default {@link DEFAULT_RUNS}:
 * a few hundred in all within `npm test`); `FUZZ_RUNS=5000` for a longer run.
 */

const DEFAULT_RUNS = 150;
const DEFAULT_SEED = 20_251_129;
const RUNS = Number(process.env.FUZZ_RUNS ?? DEFAULT_RUNS);
const SEED = Number(process.env.FUZZ_SEED ?? DEFAULT_SEED);
/** Per property: generous, as each case is a few local HTTP round trips on a shared machine. */
const TIMEOUT_MS = 60_000 + RUNS * 250;
const OWNER = 'fuzz-owner';

let t: TestCloud;
let api: string;
let key: string;

beforeAll(async () => {
  t = await startTestCloud();
  api = t.cloud.endpoints.apiUrl;
  key = (await createApiKey(OWNER, 'fuzz')).key;
});
afterAll(() => t?.stop());

type Reply = RawReply;
const send = (method: string, path: string, body?: string, headers: Record<string, string> = {}) => sendRaw(api, key, method, path, body, headers);

/** The invariants every reply keeps. */
function expectWellFormed(reply: Reply, what: string, route?: { method: string; path: string }): void {
  expect(reply.status, `${what} → ${reply.status} ${reply.text.slice(0, 300)}`).toBeLessThan(500);
  if (reply.status < 400) return;
  // API Gateway's own answer for a request that matches no route (the stack has no $default), documented in the README.
  if (route && !hasRoute(route.method, route.path)) {
    expect(reply.status, what).toBe(404);
    expect(reply.body, what).toEqual({ message: 'Not Found' });
    return;
  }
  expect(reply.body, `${what}: a refusal in the error shape`).toMatchObject({
    error: { code: expect.any(String), message: expect.any(String) },
  });
}

// ---- generators ----

const LONE_SURROGATES = ['\ud800', '\udfff', 'a\udc00b', '\udbff\ud800'];
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'];
/** Names with a meaning to the table or its marshaller. */
const STORAGE_NAMES = ['', 'pk', 'type', 'M', 'S', 'L', 'N', 'NULL', 'BOOL', 'jobId', 'ownerId', 'status', 'length'];

const oddText = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme-composite', maxLength: 10 }),
  fc.constantFrom(...LONE_SURROGATES, '\u0000', '\u202e', '\ufeff', '%zz', '../', '\r\n'),
);
const keyName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, ...STORAGE_NAMES) }, { weight: 3, arbitrary: oddText }, {
  weight: 1,
  arbitrary: fc.string({ minLength: 100, maxLength: 200 }),
});
const hugeText = fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n));
/** JSON text nested this deep: arrays or objects. */
const deepJson = fc
  .tuple(fc.integer({ min: 1, max: 50_000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

/** A JSON value as text: anything JSON.parse accepts, odd ones often. */
const jsonValueText = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(oddText, fc.constant('')).map((s) => JSON.stringify(s)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: hugeText.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: fc.constantFrom('1e999', '-0', '1e-400', '123456789012345678901234567890', 'true', 'null', '[]', '{}') },
);

/** An object as JSON text, keys unique (JSON.parse keeps the last of duplicates), in order. */
const objectText = (value: fc.Arbitrary<string>, maxKeys = 6) =>
  fc
    .uniqueArray(fc.tuple(keyName, value), { maxLength: maxKeys, selector: ([k]) => k })
    .map((entries) => ({ entries, text: `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}` }));

const metadataText = fc.oneof(
  { weight: 4, arbitrary: objectText(oddText.map((s) => JSON.stringify(s))) },
  { weight: 1, arbitrary: objectText(jsonValueText) },
);
const paramsText = objectText(fc.oneof(jsonValueText, fc.integer({ min: -5, max: 200 }).map(String)), 3);

/** Mostly what the API accepts, sometimes not, so both paths are exercised. */
const mostly = <T, U>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: odd });
const absent = fc.constant(undefined);

const contentType = mostly(fc.constantFrom('image/jpeg', 'image/png', 'IMAGE/PNG; charset=x'), fc.oneof(fc.constant('image/svg+xml'), oddText));
const contentLength = mostly(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(0, -1, 1.5, 1e308, 2 ** 53 + 1));
const metadataField = fc.oneof(absent, metadataText);

interface Generated {
  text: string;
  /** The metadata sent, when every value is a string (what a created job must return). */
  metadata?: [string, string][];
}

/** Fields as JSON text, in order, absent ones left out. */
function objectOf(fields: [string, string | undefined][]): string {
  return `{${fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

function withMetadata(text: string, metadata: { entries: [string, string][] } | undefined): Generated {
  if (!metadata?.entries.every(([, v]) => v.startsWith('"'))) return { text };
  return { text, metadata: metadata.entries.map(([k, v]) => [k, JSON.parse(v) as string]) };
}

/** A job body: mostly well-formed with fuzzed metadata and params, sometimes anything at all. */
const jobBody: fc.Arbitrary<Generated> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        model: fc.oneof({ weight: 3, arbitrary: absent }, { weight: 1, arbitrary: fc.constantFrom('onnx/colors', 'nope', '__proto__') }, { weight: 1, arbitrary: oddText }),
        contentType,
        contentLength,
        params: fc.oneof({ weight: 3, arbitrary: absent }, { weight: 1, arbitrary: fc.constant({ text: '{"topK":3}' }) }, { weight: 2, arbitrary: paramsText }),
        metadata: metadataField,
        extra: fc.oneof({ weight: 5, arbitrary: absent }, { weight: 1, arbitrary: fc.tuple(keyName, jsonValueText) }),
      })
      .map(({ model, contentType: type, contentLength: length, params, metadata, extra }) =>
        withMetadata(
          objectOf([
            ['contentType', JSON.stringify(type)],
            ['contentLength', String(length)],
            ['model', model === undefined ? undefined : JSON.stringify(model)],
            ['params', params?.text],
            ['metadata', metadata?.text],
            ...(extra ? [extra] : []),
          ]),
          metadata,
        ),
      ),
  },
  { weight: 1, arbitrary: jsonValueText.map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.oneof(oddText, fc.constantFrom('{', '{"a":', '\ufeff{}', '{"__proto__":1}')).map((text) => ({ text })) },
);

/** A batch item: contentType, contentLength and metadata; sometimes a job body, which has fields an item may not. */
const batchItem: fc.Arbitrary<Generated> = mostly(
  fc
    .record({ contentType, contentLength, metadata: metadataField })
    .map(({ contentType: type, contentLength: length, metadata }) =>
      withMetadata(objectOf([['contentType', JSON.stringify(type)], ['contentLength', String(length)], ['metadata', metadata?.text]]), metadata),
    ),
  jobBody,
);

/** What an HTTP header value may hold: visible Latin-1 and inner spaces (fetch refuses the rest before sending). */
const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c));

const requestHeaders = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/json; charset=latin1'),
    'idempotency-key': fc.oneof(fc.uuid(), fc.string({ unit: headerChar, maxLength: 300 })),
    prefer: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: [] },
);

// ---- properties ----

const params = { seed: SEED, numRuns: RUNS, endOnFailure: true };

describe(`the API under generated input (seed ${SEED}, ${RUNS} runs a property)`, () => {
  it(
    'answers POST /v1/jobs without a 5xx, refuses in the error shape, and keeps metadata key for key',
    async () => {
      await fc.assert(
        fc.asyncProperty(jobBody, requestHeaders, async (body, headers) => {
          const reply = await send('POST', '/v1/jobs', body.text, headers);
          expectWellFormed(reply, `POST /v1/jobs ${body.text.slice(0, 200)}`);
          if (reply.status !== 201 && reply.status !== 200) return;
          const { jobId } = reply.body as { jobId: string };
          const read = await send('GET', `/v1/jobs/${jobId}`);
          expect(read.status).toBe(200);
          const stored = (read.body as { metadata?: Record<string, string> }).metadata;
          // A replay (same Idempotency-Key) returns the first request's job, not this body's.
          if (reply.status === 201 && body.metadata) expect(Object.entries(stored ?? {})).toEqual(body.metadata);
        }),
        params,
      );
    },
    TIMEOUT_MS,
  );

  it(
    'answers POST /v1/batches without a 5xx and leaves every batch whole or absent',
    async () => {
      const batchBody = fc
        .tuple(
          fc.oneof({ weight: 4, arbitrary: fc.array(batchItem, { minLength: 0, maxLength: 4 }) }, { weight: 1, arbitrary: absent }),
          fc.oneof({ weight: 3, arbitrary: absent }, { weight: 1, arbitrary: paramsText }),
          fc.option(jsonValueText, { nil: undefined }),
        )
        .map(([items, batchParams, raw]) => {
          if (items === undefined) return { text: raw ?? '{}', items: 0 };
          const fields = [`"items":[${items.map((i) => i.text).join(',')}]`, ...(batchParams ? [`"params":${batchParams.text}`] : [])];
          return { text: `{${fields.join(',')}}`, items: items.length };
        });
      await fc.assert(
        fc.asyncProperty(batchBody, requestHeaders, async (body, headers) => {
          const idempotencyKey = randomUUID();
          const reply = await send('POST', '/v1/batches', body.text, { ...headers, 'idempotency-key': idempotencyKey });
          expectWellFormed(reply, `POST /v1/batches ${body.text.slice(0, 200)}`);
          const { batchId } = idempotentBatchIds(OWNER, idempotencyKey, 0);
          const read = await send('GET', `/v1/batches/${batchId}`);
          if (reply.status === 201) expect(read.status).toBe(200);
          else expect(read.status).toBe(404);
          if (read.status === 200) {
            const view = read.body as { total: number; jobs: unknown[] };
            expect(view.jobs).toHaveLength(view.total);
            expect(view.total).toBe(body.items);
          }
        }),
        params,
      );
    },
    TIMEOUT_MS,
  );

  it(
    'answers any method on any path without a 5xx, in the error shape',
    async () => {
      const segment = fc.oneof(
        fc.constantFrom('v1', 'jobs', 'batches', 'models', 'health', '', '.', '..', '%zz', '%E0%A4%A', '%ED%A0%80', '%00', '%2F', randomUUID()),
        oddText.map((s) => encodeURIComponent(s.replaceAll(/\p{Cs}/gu, ''))),
        fc.string({ maxLength: 12 }),
      );
      const request = fc.record({
        method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD'),
        path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
        query: fc.option(fc.constantFrom('?limit=0', '?limit=1e3', '?cursor=%zz', '?cursor=eyJvIjotMX0', '?__proto__=1&constructor=2', '?limit=1&limit=2'), { nil: '' }),
        body: fc.option(jsonBodyOrNot(), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(request, async ({ method, path, query, body }) => {
          let target: URL;
          try {
            target = new URL(api + path + query);
          } catch {
            return; // not a URL a client can send
          }
          // The page (GET /) is 503 page_not_built until `npm run build:web` (npm test builds it first).
          if (target.pathname === '/' && method === 'GET') return;
          const reply = await send(method, target.pathname + target.search, method === 'GET' || method === 'HEAD' ? undefined : body);
          expect(reply.status, `${method} ${target.pathname} → ${reply.text.slice(0, 300)}`).toBeLessThan(500);
          if (method !== 'HEAD' && reply.status >= 400) expectWellFormed(reply, `${method} ${target.pathname}`, { method, path: target.pathname });
        }),
        params,
      );
    },
    TIMEOUT_MS,
  );
});

function jsonBodyOrNot(): fc.Arbitrary<string> {
  return fc.oneof(jobBody.map((b) => b.text), oddText);
}
