import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The environment is set before any project module reads it; presigning is local computation,
// and the endpoint is a closed port so nothing could be reached even by mistake.
const ENV = vi.hoisted(() => {
  const env = {
    TABLE_NAME: 'jobs-table',
    BUCKET_NAME: 'presign-test-bucket',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDPRESIGNTEST',
    AWS_SECRET_ACCESS_KEY: 'presign-test-secret',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    S3_FORCE_PATH_STYLE: 'true',
  };
  const saved: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  for (const name of ['UPLOAD_URL_TTL_SECONDS', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) {
    saved[name] = process.env[name];
    delete process.env[name];
  }
  return { env, saved };
});

import { resetAwsClients } from '#shared/aws.ts';
import { resetConfig } from '#shared/config.ts';
import { createUploadUrl, SIGNED_UPLOAD_HEADERS, uploadPresignParameters } from '#shared/storage/presign.ts';

const JOB_ID = '0f8e2a4c-1b3d-4e5f-8a6b-7c8d9e0f1a2b';
// A whole second, so the signing time and expiresAt can be compared exactly.
const SIGNED_AT = Date.UTC(2025, 0, 2, 3, 4, 5);
const DEFAULT_TTL = 900;

function reload() {
  resetConfig();
  resetAwsClients();
}

/** 20250102T030405Z, as SigV4 writes a time. */
function amzDate(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

async function presign(contentType = 'image/jpeg', contentLength = 123_456, now = SIGNED_AT) {
  const upload = await createUploadUrl(JOB_ID, contentType, contentLength, now);
  return { upload, url: new URL(upload.url) };
}

beforeEach(reload);
afterEach(() => {
  delete process.env.UPLOAD_URL_TTL_SECONDS;
  reload();
});
afterAll(() => {
  for (const [name, value] of Object.entries(ENV.saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  reload();
});

describe('uploadPresignParameters', () => {
  it('puts the upload at uploads/<jobId> in the configured bucket', () => {
    const { input } = uploadPresignParameters(JOB_ID, 'image/png', 42);
    expect(input.Bucket).toBe(ENV.env.BUCKET_NAME);
    expect(input.Key).toBe(`uploads/${JOB_ID}`);
  });

  it('carries the declared content type and length into the command', () => {
    const { input } = uploadPresignParameters(JOB_ID, 'image/png', 42);
    expect(input.ContentType).toBe('image/png');
    expect(input.ContentLength).toBe(42);
  });

  it('signs exactly content-type and content-length', () => {
    const { options } = uploadPresignParameters(JOB_ID, 'image/png', 42);
    expect([...options.signableHeaders].sort()).toEqual(['content-length', 'content-type']);
    expect([...SIGNED_UPLOAD_HEADERS].sort()).toEqual(['content-length', 'content-type']);
  });

  it('expires after UPLOAD_URL_TTL_SECONDS, 900 by default', () => {
    expect(uploadPresignParameters(JOB_ID, 'image/png', 42).options.expiresIn).toBe(DEFAULT_TTL);
  });

  it('expires after a custom UPLOAD_URL_TTL_SECONDS', () => {
    process.env.UPLOAD_URL_TTL_SECONDS = '3600';
    reload();
    expect(uploadPresignParameters(JOB_ID, 'image/png', 42).options.expiresIn).toBe(3600);
  });
});

describe('createUploadUrl', () => {
  it('returns a PUT to the upload key, path-style on the configured endpoint', async () => {
    const { upload, url } = await presign();
    expect(upload.method).toBe('PUT');
    expect(url.origin).toBe('http://127.0.0.1:9');
    expect(url.pathname).toBe(`/${ENV.env.BUCKET_NAME}/uploads/${JOB_ID}`);
  });

  it('signs content-type, content-length and host', async () => {
    const { url } = await presign();
    const signed = url.searchParams.get('X-Amz-SignedHeaders')?.split(';') ?? [];
    expect(signed).toEqual(expect.arrayContaining(['content-type', 'content-length', 'host']));
  });

  it('is a SigV4 query-string presign for s3 in the configured region, signed at the given time', async () => {
    const { url } = await presign();
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Date')).toBe(amzDate(SIGNED_AT));
    expect(url.searchParams.get('X-Amz-Credential')).toBe(
      `${ENV.env.AWS_ACCESS_KEY_ID}/20250102/${ENV.env.AWS_REGION}/s3/aws4_request`,
    );
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sets X-Amz-Expires to the default TTL of 900 seconds', async () => {
    const { url } = await presign();
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(DEFAULT_TTL));
  });

  it('sets X-Amz-Expires to a custom UPLOAD_URL_TTL_SECONDS', async () => {
    process.env.UPLOAD_URL_TTL_SECONDS = '1800';
    reload();
    const { upload, url } = await presign();
    expect(url.searchParams.get('X-Amz-Expires')).toBe('1800');
    expect(upload.expiresAt).toBe(new Date(SIGNED_AT + 1800 * 1000).toISOString());
  });

  it('reports expiresAt as the signing time plus the TTL', async () => {
    const { upload } = await presign();
    expect(upload.expiresAt).toBe('2025-01-02T03:19:05.000Z');
  });

  it('tells the client to send exactly content-type and content-length, as declared', async () => {
    const { upload } = await presign('image/webp', 987_654);
    expect(upload.headers).toEqual({ 'content-type': 'image/webp', 'content-length': '987654' });
  });

  it('carries no checksum in the URL (requestChecksumCalculation WHEN_REQUIRED)', async () => {
    const { url } = await presign();
    const names = [...url.searchParams.keys()].map((name) => name.toLowerCase());
    expect(names).not.toContain('x-amz-checksum-crc32');
    expect(names).not.toContain('x-amz-sdk-checksum-algorithm');
    expect(names.filter((name) => name.includes('checksum'))).toEqual([]);
    const signed = url.searchParams.get('X-Amz-SignedHeaders') ?? '';
    expect(signed).not.toMatch(/checksum/);
  });

  it('signs a different signature for another length or type, so S3 refuses a body that differs', async () => {
    const base = (await presign('image/jpeg', 1000)).url.searchParams.get('X-Amz-Signature');
    const again = (await presign('image/jpeg', 1000)).url.searchParams.get('X-Amz-Signature');
    const longer = (await presign('image/jpeg', 1001)).url.searchParams.get('X-Amz-Signature');
    const otherType = (await presign('image/png', 1000)).url.searchParams.get('X-Amz-Signature');
    expect(again).toBe(base);
    expect(longer).not.toBe(base);
    expect(otherType).not.toBe(base);
  });
});
