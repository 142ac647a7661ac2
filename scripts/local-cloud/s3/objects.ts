/** Object routes: PutObject, CopyObject, GetObject (with Range), HeadObject, DeleteObject. */
import type { OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import {
  declaredLength,
  header,
  metadataFromHeaders,
  receiveBody,
  reply,
  requireBucket,
  type S3Context,
} from './context.ts';
import { S3Error, s3Errors } from './errors.ts';
import { copyBody } from './multipart.ts';
import { MAX_KEY_BYTES, type ObjectMeta } from './object-file.ts';
import { decodeComponent, queryValue } from './target.ts';
import { xmlElement, xmlRoot } from './xml.ts';

export function requireKey(ctx: S3Context): void {
  if (Buffer.byteLength(ctx.target.key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: String(MAX_KEY_BYTES) });
  }
}

export async function putObject(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  requireKey(ctx);
  const length = declaredLength(ctx);
  const metadata = metadataFromHeaders(ctx);
  const { bucket, key } = ctx.target;
  const writer = await ctx.store.startWrite(key);
  let stored: ObjectMeta;
  try {
    await receiveBody(ctx, writer, length);
    stored = await ctx.store.commit(bucket, writer, { ...metadata, eTag: `"${writer.md5Hex()}"`, lastModified: new Date().toISOString() });
  } catch (error) {
    await writer.discard();
    throw error;
  }
  await ctx.objectCreated({ bucket, key, size: stored.size, eTag: stored.eTag, eventName: 'ObjectCreated:Put', sourceIp: sourceIp(ctx) });
  reply(ctx, 200, { etag: stored.eTag });
}

export function sourceIp(ctx: S3Context): string {
  return (ctx.req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
}

/** `x-amz-copy-source: /bucket/key` (URL-encoded, leading slash optional). */
function copySource(ctx: S3Context): { bucket: string; key: string } {
  const raw = header(ctx, 'x-amz-copy-source') ?? '';
  const decoded = decodeComponent(raw.split('?')[0]!.replace(/^\//, ''));
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw s3Errors.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', raw);
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

export async function copyObject(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  requireKey(ctx);
  const source = copySource(ctx);
  if (!ctx.store.hasBucket(source.bucket)) throw s3Errors.noSuchBucket(source.bucket);
  const directive = header(ctx, 'x-amz-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') throw s3Errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  const { bucket, key } = ctx.target;
  if (source.bucket === bucket && source.key === key && directive === 'COPY') {
    throw new S3Error(400, 'InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  ctx.req.resume();
  const opened = await ctx.store.open(source.bucket, source.key);
  if (!opened) throw s3Errors.noSuchKey(source.key);
  const writer = await ctx.store.startWrite(key);
  let stored: ObjectMeta;
  try {
    await copyBody(opened.handle, opened.bodyStart, opened.meta.size, writer);
    const metadata =
      directive === 'COPY'
        ? { contentType: opened.meta.contentType, userMetadata: opened.meta.userMetadata, headers: opened.meta.headers }
        : metadataFromHeaders(ctx);
    stored = await ctx.store.commit(bucket, writer, { ...metadata, eTag: `"${writer.md5Hex()}"`, lastModified: new Date().toISOString() });
  } catch (error) {
    await writer.discard();
    throw error;
  } finally {
    await opened.handle.close();
  }
  await ctx.objectCreated({ bucket, key, size: stored.size, eTag: stored.eTag, eventName: 'ObjectCreated:Copy', sourceIp: sourceIp(ctx) });
  reply(ctx, 200, {}, xmlRoot('CopyObjectResult', [xmlElement('LastModified', stored.lastModified), xmlElement('ETag', stored.eTag)]));
}

/** Presigned GETs may override these reply headers (S3's response-* parameters). */
const RESPONSE_OVERRIDES = {
  'response-content-type': 'content-type',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
  'response-content-language': 'content-language',
  'response-cache-control': 'cache-control',
  'response-expires': 'expires',
} as const;

/** A satisfiable `Range: bytes=…` as [first, last] inclusive; undefined for no (or an ignorable) range. */
export function parseRange(text: string | undefined, size: number): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(text.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // S3 ignores ranges it cannot parse
  const unsatisfiable = () =>
    new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: text, ActualObjectSize: String(size) });
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return [Math.max(0, size - suffix), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (first >= size || first > last) throw unsatisfiable();
  return [first, last];
}

function objectHeaders(meta: ObjectMeta): OutgoingHttpHeaders {
  return {
    'content-type': meta.contentType,
    etag: meta.eTag,
    'last-modified': new Date(meta.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    ...meta.headers,
    ...Object.fromEntries(Object.entries(meta.userMetadata).map(([name, value]) => [`x-amz-meta-${name}`, value])),
  };
}

/** If-Match / If-None-Match, as S3 answers them (412, 304). */
function checkConditions(ctx: S3Context, meta: ObjectMeta): 'not-modified' | undefined {
  const ifMatch = header(ctx, 'if-match');
  if (ifMatch !== undefined && !ifMatch.split(',').some((t) => t.trim() === '*' || t.trim() === meta.eTag || `"${t.trim()}"` === meta.eTag)) {
    throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
  }
  const ifNoneMatch = header(ctx, 'if-none-match');
  if (ifNoneMatch?.split(',').some((t) => t.trim() === '*' || t.trim() === meta.eTag || `"${t.trim()}"` === meta.eTag)) {
    return 'not-modified';
  }
  return undefined;
}

/** GetObject and HeadObject: read from the open file, so a concurrent overwrite never shows through. */
export async function getObject(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  ctx.req.resume();
  const opened = await ctx.store.open(ctx.target.bucket, ctx.target.key);
  if (!opened) throw s3Errors.noSuchKey(ctx.target.key);
  let streaming = false;
  try {
    const { meta } = opened;
    const headers = objectHeaders(meta);
    if (checkConditions(ctx, meta) === 'not-modified') {
      reply(ctx, 304, { etag: meta.eTag, 'last-modified': headers['last-modified'] });
      return;
    }
    if (ctx.req.method === 'GET') {
      for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
        const value = queryValue(ctx.target, param);
        if (value !== undefined) headers[name] = value;
      }
    }
    const range = parseRange(header(ctx, 'range'), meta.size);
    const [first, last] = range ?? [0, meta.size - 1];
    const length = last - first + 1;
    ctx.res.writeHead(range ? 206 : 200, {
      ...ctx.replyHeaders,
      ...headers,
      'content-length': length,
      ...(range ? { 'content-range': `bytes ${first}-${last}/${meta.size}` } : {}),
    });
    if (ctx.req.method === 'HEAD' || length === 0) {
      ctx.res.end();
      return;
    }
    streaming = true;
    const body = opened.handle.createReadStream({ start: opened.bodyStart + first, end: opened.bodyStart + last, autoClose: true });
    await pipeline(body, ctx.res).catch(() => {
      // The client hung up mid-body; pipeline destroyed both streams (closing the file).
    });
  } finally {
    if (!streaming) await opened.handle.close();
  }
}

export async function deleteObject(ctx: S3Context): Promise<void> {
  requireBucket(ctx);
  ctx.req.resume();
  await ctx.store.delete(ctx.target.bucket, ctx.target.key);
  reply(ctx, 204);
}
