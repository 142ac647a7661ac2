import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, describe, expect, it } from 'vitest';
import { S3Error } from '../../scripts/local-cloud/s3/errors.ts';
import { type SigV4Request, verifySigV4 } from '../../scripts/local-cloud/s3/sigv4.ts';
import { parseTarget } from '../../scripts/local-cloud/s3/target.ts';

/**
 * The verifier against requests the AWS SDK signs itself (its SigV4 signer and its S3 presigner):
 * what the SDK signs is accepted, anything S3 would refuse is refused with S3's error code.
 */

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' };
const HOST = 'localhost:4566';
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const settings = (now = NOW) => ({
  region: REGION,
  secretFor: (id: string) => (id === CREDENTIALS.accessKeyId ? CREDENTIALS.secretAccessKey : undefined),
  now,
});

const s3 = new S3Client({ endpoint: `http://${HOST}`, forcePathStyle: true, region: REGION, credentials: CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED' });
afterAll(() => s3.destroy());

type SignableRequest = Parameters<SignatureV4['sign']>[0];

/** Sign with the SDK's SigV4 signer (header auth), then present the request as the server receives it. */
async function headerSigned(
  method: string,
  path: string,
  headers: Record<string, string>,
  { secret = CREDENTIALS.secretAccessKey, region = REGION, signingDate = new Date(NOW) } = {},
): Promise<SigV4Request> {
  const signer = new SignatureV4({ service: 's3', region, credentials: { ...CREDENTIALS, secretAccessKey: secret }, sha256: Sha256, uriEscapePath: false });
  const [rawPath = '/', rawQuery] = path.split('?');
  const query = Object.fromEntries(parseTarget(path).query.map((p) => [p.name, p.value]));
  const request = { method, protocol: 'http:', hostname: 'localhost', port: 4566, path: rawPath, query, headers: { host: HOST, ...headers } } as unknown as SignableRequest;
  const signed = await signer.sign(request, { signingDate });
  return { method, rawPath, query: parseTarget(rawQuery ? `${rawPath}?${rawQuery}` : rawPath).query, rawHeaders: Object.entries(signed.headers).flat() };
}

/** A presigned URL as the server receives it, with the headers the client sends. */
function fromUrl(method: string, url: string, headers: Record<string, string> = {}): SigV4Request {
  const parsed = new URL(url);
  const target = parseTarget(parsed.pathname + parsed.search);
  return { method, rawPath: target.rawPath, query: target.query, rawHeaders: Object.entries({ host: parsed.host, ...headers }).flat() };
}

function presignPut(key: string, contentType: string, contentLength: number, expiresIn = 900, signingDate = new Date(NOW)): Promise<string> {
  return getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bucket', Key: key, ContentType: contentType, ContentLength: contentLength }), {
    expiresIn,
    signingDate,
    signableHeaders: new Set(['content-type', 'content-length']),
  });
}

/** The S3 error code verification throws, or 'ok'. */
function outcome(request: SigV4Request, now = NOW): string {
  try {
    verifySigV4(request, settings(now));
    return 'ok';
  } catch (error) {
    if (error instanceof S3Error) return error.code;
    throw error;
  }
}

const UNSIGNED = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };

describe('header authentication', () => {
  it('accepts a request the SDK signed, and says the body is unsigned', async () => {
    const request = await headerSigned('GET', '/bucket/photos/cat.png', UNSIGNED);
    expect(verifySigV4(request, settings())).toEqual({ via: 'header', accessKeyId: CREDENTIALS.accessKeyId, payload: { kind: 'unsigned' } });
  });

  it('returns the signed body hash for the caller to check', async () => {
    const hex = createHash('sha256').update('hello').digest('hex');
    const request = await headerSigned('PUT', '/bucket/hello.txt', { 'x-amz-content-sha256': hex, 'content-length': '5' });
    expect(verifySigV4(request, settings()).payload).toEqual({ kind: 'sha256', hex });
  });

  it('accepts keys with spaces, plus signs and non-ASCII characters, and query parameters', async () => {
    const path = `/bucket/${encodeURIComponent('my photo + café 日本 (1).png').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}?list-type=2&prefix=${encodeURIComponent('a b/')}`;
    expect(outcome(await headerSigned('GET', path, UNSIGNED))).toBe('ok');
  });

  it('refuses a request signed with another secret', async () => {
    expect(outcome(await headerSigned('GET', '/bucket/k', UNSIGNED, { secret: 'wrong' }))).toBe('SignatureDoesNotMatch');
  });

  it('refuses an unknown access key', async () => {
    const request = await headerSigned('GET', '/bucket/k', UNSIGNED);
    expect(() => verifySigV4(request, { ...settings(), secretFor: () => undefined })).toThrow(expect.objectContaining({ code: 'InvalidAccessKeyId', status: 403 }));
  });

  it('refuses a request signed for another region', async () => {
    expect(outcome(await headerSigned('GET', '/bucket/k', UNSIGNED, { region: 'eu-west-1' }))).toBe('AuthorizationHeaderMalformed');
  });

  it('refuses a request dated more than 15 minutes from the server clock, either way', async () => {
    const request = await headerSigned('GET', '/bucket/k', UNSIGNED);
    expect(outcome(request, NOW + 14 * 60_000)).toBe('ok');
    expect(outcome(request, NOW + 16 * 60_000)).toBe('RequestTimeTooSkewed');
    expect(outcome(request, NOW - 16 * 60_000)).toBe('RequestTimeTooSkewed');
  });

  it('refuses a tampered header or an x-amz header added after signing', async () => {
    const request = await headerSigned('PUT', '/bucket/k', { ...UNSIGNED, 'content-type': 'image/png' });
    const retyped = { ...request, rawHeaders: request.rawHeaders.map((v) => (v === 'image/png' ? 'image/jpeg' : v)) };
    expect(outcome(retyped)).toBe('SignatureDoesNotMatch');
    expect(outcome({ ...request, rawHeaders: [...request.rawHeaders, 'x-amz-meta-extra', '1'] })).toBe('AccessDenied');
  });

  it('refuses a request without x-amz-content-sha256, and aws-chunked bodies it cannot decode', async () => {
    const signed = await headerSigned('GET', '/bucket/k', UNSIGNED);
    const at = signed.rawHeaders.indexOf('x-amz-content-sha256');
    const withoutHash = { ...signed, rawHeaders: signed.rawHeaders.filter((_, i) => i !== at && i !== at + 1) };
    expect(at).toBeGreaterThanOrEqual(0);
    expect(outcome(withoutHash)).toBe('InvalidRequest');
    expect(outcome(await headerSigned('PUT', '/bucket/k', { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }))).toBe('NotImplemented');
  });

  it('refuses an unsigned request, and one authenticated both ways', async () => {
    expect(outcome({ method: 'GET', rawPath: '/bucket/k', query: [], rawHeaders: ['host', HOST] })).toBe('AccessDenied');
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }), { signingDate: new Date(NOW) });
    const both = fromUrl('GET', url, { authorization: 'AWS4-HMAC-SHA256 Credential=x' });
    expect(outcome(both)).toBe('InvalidArgument');
  });
});

describe('presigned URLs', () => {
  it('accept the body type and length they were signed for', async () => {
    const url = await presignPut('uploads/job-1', 'image/png', 1234);
    expect(verifySigV4(fromUrl('PUT', url, { 'content-type': 'image/png', 'content-length': '1234' }), settings())).toEqual({
      via: 'query',
      accessKeyId: CREDENTIALS.accessKeyId,
      payload: { kind: 'unsigned' },
    });
  });

  it('refuse another content-type or content-length with SignatureDoesNotMatch', async () => {
    const url = await presignPut('uploads/job-1', 'image/png', 1234);
    expect(outcome(fromUrl('PUT', url, { 'content-type': 'image/jpeg', 'content-length': '1234' }))).toBe('SignatureDoesNotMatch');
    expect(outcome(fromUrl('PUT', url, { 'content-type': 'image/png', 'content-length': '1235' }))).toBe('SignatureDoesNotMatch');
    expect(outcome(fromUrl('GET', url, { 'content-type': 'image/png', 'content-length': '1234' }))).toBe('SignatureDoesNotMatch');
  });

  it('expire after X-Amz-Expires, and are not valid before their date', async () => {
    const url = await presignPut('uploads/job-1', 'image/png', 4, 60);
    const request = fromUrl('PUT', url, { 'content-type': 'image/png', 'content-length': '4' });
    expect(outcome(request, NOW + 60_000)).toBe('ok');
    expect(() => verifySigV4(request, settings(NOW + 61_000))).toThrow(expect.objectContaining({ code: 'AccessDenied', message: 'Request has expired' }));
    expect(() => verifySigV4(request, settings(NOW - 16 * 60_000))).toThrow(expect.objectContaining({ code: 'AccessDenied', message: 'Request is not valid yet' }));
  });

  it('refuse a lifetime over seven days and a tampered signature', async () => {
    const url = new URL(await presignPut('uploads/job-1', 'image/png', 4));
    const headers = { 'content-type': 'image/png', 'content-length': '4' };
    const tooLong = new URL(url);
    tooLong.searchParams.set('X-Amz-Expires', '604801');
    expect(outcome(fromUrl('PUT', tooLong.href, headers))).toBe('AuthorizationQueryParametersError');
    const tampered = new URL(url);
    const signature = url.searchParams.get('X-Amz-Signature')!;
    tampered.searchParams.set('X-Amz-Signature', (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1));
    expect(outcome(fromUrl('PUT', tampered.href, headers))).toBe('SignatureDoesNotMatch');
  });

  it('cover signed response overrides on presigned GETs', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bucket', Key: 'results/r 1.json', ResponseContentDisposition: 'attachment; filename="r1.json"' }), {
      signingDate: new Date(NOW),
    });
    expect(outcome(fromUrl('GET', url))).toBe('ok');
    const altered = new URL(url);
    altered.searchParams.set('response-content-disposition', 'inline');
    expect(outcome(fromUrl('GET', altered.href))).toBe('SignatureDoesNotMatch');
  });
});
