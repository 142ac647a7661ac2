import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { S3Error } from './errors.ts';
import type { MultipartUploads } from './multipart.ts';
import type { ObjectFileWriter } from './object-file.ts';
import type { Authenticated } from './sigv4.ts';
import { payloadMismatch } from './sigv4.ts';
import type { ObjectStore } from './store.ts';
import type { RequestTarget } from './target.ts';

export type ObjectCreatedEventName = 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';

/** An object became durable under its key: what the bucket notification reports. */
export interface ObjectCreatedEvent {
  bucket: string;
  key: string;
  size: number;
  /** Quoted, as in the ETag header. */
  eTag: string;
  eventName: ObjectCreatedEventName;
  sourceIp: string;
}

/** Everything a route needs to answer one authenticated request. */
export interface S3Context {
  req: IncomingMessage;
  res: ServerResponse;
  target: RequestTarget;
  auth: Authenticated;
  store: ObjectStore;
  uploads: MultipartUploads;
  /** The client sent `Expect: 100-continue` and waits for it before sending the body. */
  expectsContinue: boolean;
  /** Headers every reply carries (request id, CORS). */
  replyHeaders: OutgoingHttpHeaders;
  /** Hand an ObjectCreated event to the subscribers; resolves once they have taken it. */
  objectCreated(event: ObjectCreatedEvent): Promise<void>;
}

/** The client went away mid-body: nothing to answer, nothing stored. */
export class ClientAborted extends Error {
  override readonly name = 'ClientAborted';
}

/** S3's single-PUT limit: 5 GiB. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

export function reply(ctx: S3Context, status: number, headers: OutgoingHttpHeaders = {}, body?: string): void {
  const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
  ctx.res.writeHead(status, {
    ...ctx.replyHeaders,
    ...(bytes ? { 'content-type': 'application/xml' } : {}),
    'content-length': bytes?.length ?? 0,
    ...headers,
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : bytes);
}

export function header(ctx: S3Context, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function requireBucket(ctx: S3Context): void {
  if (!ctx.store.hasBucket(ctx.target.bucket)) {
    throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: ctx.target.bucket });
  }
}

/** The declared body length; S3 refuses uploads without one (and aws-chunked bodies are refused in sigv4.ts). */
export function declaredLength(ctx: S3Context): number {
  const text = ctx.req.headers['content-length'];
  if (text === undefined) throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  const length = Number(text);
  if (length > MAX_PUT_BYTES) {
    throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: text,
      MaxSizeAllowed: String(MAX_PUT_BYTES),
    });
  }
  return length;
}

/**
 * Stream the request body into writer, then check it against what the client declared and signed:
 * its length, Content-MD5 and x-amz-content-sha256. Throws ClientAborted if the body ended early.
 */
export async function receiveBody(ctx: S3Context, writer: ObjectFileWriter, length: number): Promise<void> {
  if (ctx.expectsContinue) ctx.res.writeContinue();
  try {
    for await (const chunk of ctx.req) await writer.append(chunk as Buffer);
  } catch {
    throw new ClientAborted('the client aborted the request body');
  }
  // Node's parser stops at content-length, so fewer bytes means the body ended early.
  if (writer.size !== length || !ctx.req.complete) throw new ClientAborted(`the body was ${writer.size} of ${length} bytes`);
  const contentMd5 = header(ctx, 'content-md5');
  if (contentMd5 !== undefined) {
    if (Buffer.from(contentMd5, 'base64').length !== 16) throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
    if (contentMd5 !== writer.md5Base64()) {
      throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', {
        ExpectedDigest: contentMd5,
        CalculatedDigest: writer.md5Base64(),
      });
    }
  }
  if (ctx.auth.payload.kind === 'sha256' && ctx.auth.payload.hex !== writer.sha256Hex()) {
    throw payloadMismatch(ctx.auth.payload.hex, writer.sha256Hex());
  }
}

/** Read a small XML request body (DeleteObjects, CompleteMultipartUpload), checking its signed hash. */
export async function readSmallBody(ctx: S3Context, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.');
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  if (ctx.auth.payload.kind === 'sha256') {
    const computed = createHash('sha256').update(body).digest('hex');
    if (computed !== ctx.auth.payload.hex) throw payloadMismatch(ctx.auth.payload.hex, computed);
  }
  return body.toString('utf8');
}

const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
/** S3's type for an object uploaded without one. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';
/** S3 caps user-defined metadata at 2 KB (names and values, UTF-8). */
export const MAX_USER_METADATA_BYTES = 2048;

/** The metadata a PUT, copy (REPLACE) or multipart create stores from its headers. */
export function metadataFromHeaders(ctx: S3Context): { contentType: string; userMetadata: Record<string, string>; headers: Record<string, string> } {
  const userMetadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    const short = name.slice('x-amz-meta-'.length);
    userMetadata[short] = text;
    bytes += Buffer.byteLength(short) + Buffer.byteLength(text);
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error(400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', {
      Size: String(bytes),
      MaxSizeAllowed: String(MAX_USER_METADATA_BYTES),
    });
  }
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = header(ctx, name);
    if (value !== undefined) headers[name] = value;
  }
  return { contentType: header(ctx, 'content-type') ?? DEFAULT_CONTENT_TYPE, userMetadata, headers };
}
