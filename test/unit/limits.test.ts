import type { ApiEvent } from '#functions/api/http.ts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Only validation that runs before any AWS call is exercised here; the endpoints are closed
// loopback ports, so a test that strayed would fail rather than reach anything.
const saved = vi.hoisted(() => {
  const env = {
    TABLE_NAME: 'jobs',
    BUCKET_NAME: 'uploads',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLIMITSTEST',
    AWS_SECRET_ACCESS_KEY: 'limits-test-secret',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  const before: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    before[name] = process.env[name];
    process.env[name] = value;
  }
  return before;
});

import { CreateJobBody } from '#shared/jobs/requests.ts';
import { routeRequest } from '#functions/api/router.ts';
import { ConfigError, LIMITS, parseConfig, resetConfig } from '#shared/config.ts';

const REQUIRED = { TABLE_NAME: 'jobs', BUCKET_NAME: 'uploads' };
const KB = 1024;

beforeAll(() => resetConfig());
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfig();
});

/** Metadata whose JSON is exactly `bytes` long (ASCII), within the per-key and per-value caps. */
function metadataOfSize(bytes: number): Record<string, string> {
  const metadata: Record<string, string> = {};
  let index = 0;
  while (Buffer.byteLength(JSON.stringify(metadata)) < bytes) {
    const key = `k${index++}`;
    metadata[key] = '';
    const room = bytes - Buffer.byteLength(JSON.stringify(metadata));
    metadata[key] = 'v'.repeat(Math.max(0, Math.min(1000, room)));
  }
  expect(Buffer.byteLength(JSON.stringify(metadata))).toBe(bytes);
  return metadata;
}

const createBody = (extra: Record<string, unknown> = {}) => ({ contentType: 'image/png', contentLength: 1000, ...extra });

function postJobs(headers: Record<string, string>, body: unknown): ApiEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/v1/jobs',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path: '/v1/jobs', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2025:00:00:00 +0000',
      timeEpoch: 1735689600000,
      authorizer: { lambda: { ownerId: 'owner-1' } },
    },
  } as unknown as ApiEvent;
}

describe('RESULT_INLINE_MAX_BYTES', () => {
  it('keeps an inline result under DynamoDB’s 400 KB item cap', () => {
    expect(LIMITS.RESULT_INLINE_MAX_BYTES).toBeLessThan(400 * KB);
  });

  it('leaves room on the item for the rest of the job, metadata at its cap included', () => {
    const restOfJob = 16 * KB; // ids, timestamps, status, params, error: generous
    expect(LIMITS.RESULT_INLINE_MAX_BYTES + LIMITS.METADATA_MAX_BYTES + restOfJob).toBeLessThanOrEqual(400 * KB);
  });

  it('is about the ~300 KB the design names', () => {
    expect(LIMITS.RESULT_INLINE_MAX_BYTES).toBe(300 * KB);
  });
});

describe('PRESIGN_MAX_SECONDS', () => {
  it('is SigV4’s seven days, 604800 seconds', () => {
    expect(LIMITS.PRESIGN_MAX_SECONDS).toBe(604_800);
  });

  it('allows an UPLOAD_URL_TTL_SECONDS of exactly seven days', () => {
    expect(parseConfig({ ...REQUIRED, UPLOAD_URL_TTL_SECONDS: '604800' }).UPLOAD_URL_TTL_SECONDS).toBe(604_800);
  });

  it('refuses an UPLOAD_URL_TTL_SECONDS above it, naming the variable', () => {
    expect(() => parseConfig({ ...REQUIRED, UPLOAD_URL_TTL_SECONDS: '604801' })).toThrow(ConfigError);
    expect(() => parseConfig({ ...REQUIRED, UPLOAD_URL_TTL_SECONDS: '604801' })).toThrow(/UPLOAD_URL_TTL_SECONDS/);
  });

  it('refuses a RESULT_URL_TTL_SECONDS above it, naming the variable', () => {
    expect(parseConfig({ ...REQUIRED, RESULT_URL_TTL_SECONDS: '604800' }).RESULT_URL_TTL_SECONDS).toBe(604_800);
    expect(() => parseConfig({ ...REQUIRED, RESULT_URL_TTL_SECONDS: '604801' })).toThrow(/RESULT_URL_TTL_SECONDS/);
  });
});

describe('S3_SINGLE_PUT_MAX_BYTES', () => {
  it('is S3’s 5 GB cap on a single PUT', () => {
    expect(LIMITS.S3_SINGLE_PUT_MAX_BYTES).toBe(5 * 1024 * 1024 * 1024);
  });

  it('allows MAX_UPLOAD_BYTES up to it', () => {
    expect(parseConfig({ ...REQUIRED, MAX_UPLOAD_BYTES: '5368709120' }).MAX_UPLOAD_BYTES).toBe(5_368_709_120);
  });

  it('refuses a MAX_UPLOAD_BYTES above it, naming the variable', () => {
    expect(() => parseConfig({ ...REQUIRED, MAX_UPLOAD_BYTES: '5368709121' })).toThrow(/MAX_UPLOAD_BYTES/);
  });

  it('keeps the default MAX_UPLOAD_BYTES under it', () => {
    expect(parseConfig(REQUIRED).MAX_UPLOAD_BYTES).toBeLessThanOrEqual(LIMITS.S3_SINGLE_PUT_MAX_BYTES);
  });
});

describe('METADATA_MAX_BYTES', () => {
  it('is 2048 bytes', () => {
    expect(LIMITS.METADATA_MAX_BYTES).toBe(2048);
  });

  it('accepts metadata exactly at the limit', () => {
    expect(CreateJobBody.safeParse(createBody({ metadata: metadataOfSize(2048) })).success).toBe(true);
  });

  it('refuses metadata one byte over the limit, naming metadata', () => {
    const result = CreateJobBody.safeParse(createBody({ metadata: metadataOfSize(2049) }));
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain('metadata');
  });

  it('counts bytes, not characters: multi-byte values fill the limit sooner', () => {
    const metadata = { a: 'é'.repeat(700), b: 'é'.repeat(700) };
    expect(JSON.stringify(metadata).length).toBeLessThan(2048);
    expect(Buffer.byteLength(JSON.stringify(metadata))).toBeGreaterThan(2048);
    expect(CreateJobBody.safeParse(createBody({ metadata })).success).toBe(false);
  });

  it('accepts a body without metadata', () => {
    expect(CreateJobBody.safeParse(createBody()).success).toBe(true);
  });
});

describe('IDEMPOTENCY_KEY_MAX_LENGTH', () => {
  it('is 255 characters', () => {
    expect(LIMITS.IDEMPOTENCY_KEY_MAX_LENGTH).toBe(255);
  });

  it('refuses an Idempotency-Key one character over the limit with 400 before any work', async () => {
    const response = await routeRequest(postJobs({ 'idempotency-key': 'k'.repeat(256) }, createBody()));
    expect(response.statusCode).toBe(400);
    const { error } = JSON.parse(response.body as string);
    expect(error.code).toBe('bad_request');
    expect(error.message).toMatch(/Idempotency-Key/);
  });

  it('refuses an empty Idempotency-Key', async () => {
    const response = await routeRequest(postJobs({ 'idempotency-key': '' }, createBody()));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body as string).error.message).toMatch(/Idempotency-Key/);
  });
});
