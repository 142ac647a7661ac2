import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../scripts/local-cloud/s3/server.ts';

const BUCKET = 'uploads-test';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local-gateway-key', secretAccessKey: 'local-gateway-secret' };
let gateway: LocalS3;
let s3: S3Client;
let workDir: string;

function client(extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: gateway.url,
    forcePathStyle: true,
    region: REGION,
    credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}

function presignPut(
  key: string,
  { contentType, contentLength, expiresIn = 300, signingDate }: { contentType: string; contentLength: number; expiresIn?: number; signingDate?: Date },
): Promise<string> {
  return getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key, ContentType: contentType, ContentLength: contentLength }), {
    expiresIn,
    signableHeaders: new Set(['content-type', 'content-length']),
    ...(signingDate ? { signingDate } : {}),
  });
}

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with exactly these headers (node:http adds only host and connection). */
function rawRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const errorCode = (xml: string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

async function objectExists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch (err) {
    if (err instanceof NotFound) return false;
    throw err;
  }
}

async function readObject(key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 's3-gateway-test-'));
  gateway = await startLocalS3({ directory: workDir, region: REGION, credentials: [CREDENTIALS], buckets: [BUCKET] });
  s3 = client();
});

afterAll(async () => {
  s3?.destroy();
  await gateway?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('presigned PUT', () => {
  it('stores a body whose type and length match the signature', async () => {
    const body = randomBytes(64 * 1024);
    const url = await presignPut('uploads/match.png', { contentType: 'image/png', contentLength: body.length });
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body });
    expect(res.status).toBe(200);
    expect(await readObject('uploads/match.png')).toEqual(body);
  });

  it('refuses another content-type with SignatureDoesNotMatch and stores nothing', async () => {
    const body = randomBytes(1024);
    const url = await presignPut('uploads/wrong-type.png', { contentType: 'image/png', contentLength: body.length });
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(errorCode(await res.text())).toBe('SignatureDoesNotMatch');
    expect(await objectExists('uploads/wrong-type.png')).toBe(false);
  });

  it('refuses a body of another length and stores nothing', async () => {
    const url = await presignPut('uploads/wrong-length.png', { contentType: 'image/png', contentLength: 16 });
    for (const length of [17, 15]) {
      const reply = await rawRequest(url, 'PUT', { 'content-type': 'image/png', 'content-length': String(length) }, randomBytes(length));
      expect(reply.status).toBe(403);
      expect(errorCode(reply.body)).toBe('SignatureDoesNotMatch');
    }
    expect(await objectExists('uploads/wrong-length.png')).toBe(false);
  });

  it('refuses an expired URL with AccessDenied', async () => {
    const url = await presignPut('uploads/expired.png', {
      contentType: 'image/png',
      contentLength: 4,
      expiresIn: 60,
      signingDate: new Date(Date.now() - 120_000),
    });
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: Buffer.from('abcd') });
    expect(res.status).toBe(403);
    const xml = await res.text();
    expect(errorCode(xml)).toBe('AccessDenied');
    expect(xml).toContain('Request has expired');
    expect(await objectExists('uploads/expired.png')).toBe(false);
  });

  it('refuses a tampered signature', async () => {
    const url = new URL(await presignPut('uploads/tampered.png', { contentType: 'image/png', contentLength: 4 }));
    const signature = url.searchParams.get('X-Amz-Signature')!;
    url.searchParams.set('X-Amz-Signature', (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1));
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: Buffer.from('abcd') });
    expect(res.status).toBe(403);
    expect(errorCode(await res.text())).toBe('SignatureDoesNotMatch');
    expect(await objectExists('uploads/tampered.png')).toBe(false);
  });

  it('refuses malformed query parameters with AuthorizationQueryParametersError', async () => {
    const url = new URL(await presignPut('uploads/malformed.png', { contentType: 'image/png', contentLength: 4 }));
    url.searchParams.set('X-Amz-Expires', '604801');
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: Buffer.from('abcd') });
    expect(res.status).toBe(400);
    expect(errorCode(await res.text())).toBe('AuthorizationQueryParametersError');
  });

  it('round-trips a key with spaces, plus signs and non-ASCII characters', async () => {
    const key = 'uploads/my photo + café 日本 (1).png';
    const body = randomBytes(2048);
    const url = await presignPut(key, { contentType: 'image/png', contentLength: body.length });
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body });
    expect(res.status).toBe(200);
    expect(await readObject(key)).toEqual(body);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'uploads/my photo + café' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
  });

  it('stores nothing when the client aborts mid-upload, and keeps the previous object', async () => {
    const key = 'uploads/aborted.png';
    const previous = Buffer.from('previous object');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: previous, ContentType: 'image/png' }));
    const fresh = 'uploads/aborted-fresh.png';
    for (const target of [key, fresh]) {
      const url = await presignPut(target, { contentType: 'image/png', contentLength: 1024 * 1024 });
      const req = http.request(url, { method: 'PUT', headers: { 'content-type': 'image/png', 'content-length': String(1024 * 1024) } });
      const failed = new Promise<void>((resolve) => req.on('error', () => resolve()));
      req.write(randomBytes(256 * 1024));
      await sleep(150); // long enough for a streaming store to have written these bytes
      req.destroy();
      await failed;
    }
    await sleep(150);
    expect(await objectExists(fresh)).toBe(false);
    expect(await readObject(key)).toEqual(previous);
    // The aborted bodies' temporary files are gone: nothing half-written is left to find.
    await expect.poll(() => readdir(path.join(workDir, 'tmp'))).toEqual([]);
  });
});

describe('presigned GET', () => {
  it('returns the object, honouring signed response overrides', async () => {
    const body = Buffer.from('{"hello":"world"}');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'results/r1.json', Body: body, ContentType: 'application/json' }));
    const url = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: BUCKET, Key: 'results/r1.json', ResponseContentDisposition: 'attachment; filename="r1.json"' }),
      { expiresIn: 60 },
    );
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="r1.json"');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
  });
});

describe('unsigned requests', () => {
  it('are refused with AccessDenied and touch nothing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'private/secret.txt', Body: 'secret' }));
    const get = await fetch(`${gateway.url}/${BUCKET}/private/secret.txt`);
    expect(get.status).toBe(403);
    expect(errorCode(await get.text())).toBe('AccessDenied');

    const put = await fetch(`${gateway.url}/${BUCKET}/private/anonymous.txt`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(403);
    expect(await objectExists('private/anonymous.txt')).toBe(false);
  });

  it('lets CORS preflights through to the bucket CORS rules', async () => {
    const res = await fetch(`${gateway.url}/${BUCKET}/uploads/x.png`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.localhost', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
  });
});

describe('SDK clients (header auth)', () => {
  it('put, head, get, list and delete', async () => {
    const key = 'sdk/object one.bin';
    const body = randomBytes(10_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'application/octet-stream' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ContentType).toBe('application/octet-stream');
    expect(await readObject(key)).toEqual(body);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sdk/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await objectExists(key)).toBe(false);
  });

  it('refuses a request signed with the wrong secret', async () => {
    const impostor = client({ credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 });
    const err = await impostor.send(new ListObjectsV2Command({ Bucket: BUCKET })).catch((e: unknown) => e);
    impostor.destroy();
    expect(err).toBeInstanceOf(S3ServiceException);
    expect((err as S3ServiceException).name).toBe('SignatureDoesNotMatch');
    expect((err as S3ServiceException).$metadata.httpStatusCode).toBe(403);
  });
});

describe('fault injection', () => {
  it('fails exactly the requested number of matching requests', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'faults/a.txt', Body: 'a' }));
    const once = client({ maxAttempts: 1 });
    const fault = gateway.faults.add({ method: 'GET', keyPrefix: 'faults/', status: 503, code: 'SlowDown', times: 1 });
    const hitsBefore = gateway.faults.hits;

    // A PUT does not match the GET rule and does not spend it.
    await once.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'faults/b.txt', Body: 'b' }));
    const err = await once.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'faults/a.txt' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3ServiceException);
    expect((err as S3ServiceException).name).toBe('SlowDown');
    expect((err as S3ServiceException).$metadata.httpStatusCode).toBe(503);

    const ok = await once.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'faults/a.txt' }));
    expect(await ok.Body!.transformToString()).toBe('a');
    expect(fault.hits).toBe(1);
    expect(fault.remaining).toBe(0);
    expect(gateway.faults.hits).toBe(hitsBefore + 1);
    once.destroy();
  });

  it('clear() disarms pending faults', async () => {
    gateway.faults.add({ status: 500, times: 5 });
    gateway.faults.clear();
    const once = client({ maxAttempts: 1 });
    const listed = await once.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'faults/' }));
    once.destroy();
    expect(listed.KeyCount).toBe(2);
  });
});
