/**
 * The local cloud's S3: the REST subset the project, the SDKs and the AWS CLI's `s3` commands use,
 * path-style, authenticated with SigV4 as S3 does (sigv4.ts), over a crash-safe store (store.ts).
 *
 * `listener` / `checkContinueListener` are the request handlers alone, so another server (an edge
 * port routing several services) can mount them; `listen` serves them on a port of its own.
 * Every ObjectCreated event is handed to the subscribers after the object is durable and before
 * the reply: an upload answered 200 has had its notification taken.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BUCKET_CORS } from '#shared/storage/bucket-cors.ts';
import { createBucket, deleteBucket, deleteObjects, getBucketLocation, headBucket, listBuckets, listObjects } from './buckets.ts';
import { ClientAborted, type ObjectCreatedEvent, type S3Context } from './context.ts';
import { type CorsRule, corsReplyHeaders, preflight } from './cors.ts';
import { newRequestId, S3Error, s3ErrorXml, s3Errors } from './errors.ts';
import { type FaultInjector, FaultList } from './faults.ts';
import { MultipartUploads } from './multipart.ts';
import { copyObject, deleteObject, getObject, putObject } from './objects.ts';
import { verifySigV4 } from './sigv4.ts';
import { ObjectStore, type QuarantinedFile } from './store.ts';
import { hasQuery, parseTarget, type RequestTarget } from './target.ts';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listParts,
  uploadPart,
} from './uploads.ts';

export type { ObjectCreatedEvent } from './context.ts';
export type { ArmedFault, FaultInjector, FaultRule } from './faults.ts';

export interface LocalS3Options {
  /** Where objects persist. */
  directory: string;
  /** The region requests must be signed for. */
  region: string;
  /** The key pairs requests may be signed with. */
  credentials: readonly { accessKeyId: string; secretAccessKey: string }[];
  /** Buckets to create if missing. */
  buckets?: readonly string[];
  /** Origins the buckets' CORS rule allows (the rest of the rule is the stack's BUCKET_CORS); default any. */
  allowedOrigins?: readonly string[];
  /** Told about damaged files the start-up scan quarantined; default console.warn. */
  warn?: (message: string) => void;
}

export type ObjectCreatedSubscriber = (event: ObjectCreatedEvent) => Promise<void> | void;

export interface LocalS3 {
  /** The request handler, for mounting on another server (register checkContinueListener too). */
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** For a server's 'checkContinue' event: refuses a bad upload before its body is sent. */
  readonly checkContinueListener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Serve on host:port (0 picks a free port); resolves to the endpoint URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** The endpoint URL once listening ('' before). */
  readonly url: string;
  readonly faults: FaultInjector;
  /** The server's clock, as an offset from the machine's: tests move it forward to make URLs expire. */
  readonly clock: { offsetMs: number };
  /** What the start-up scan set aside. */
  readonly quarantined: readonly QuarantinedFile[];
  /** Subscribe to ObjectCreated events; the reply waits for every subscriber. Returns an unsubscribe. */
  onObjectCreated(subscriber: ObjectCreatedSubscriber): () => void;
  close(): Promise<void>;
}

export async function createLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const store = await ObjectStore.open(options.directory, { warn: options.warn });
  for (const bucket of options.buckets ?? []) await store.createBucket(bucket);
  const uploads = new MultipartUploads(store);
  const secrets = new Map(options.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  const cors: CorsRule[] = [{ ...BUCKET_CORS, allowedOrigins: options.allowedOrigins ?? ['*'] }];
  const faults = new FaultList();
  const clock = { offsetMs: 0 };
  const subscribers = new Set<ObjectCreatedSubscriber>();
  let server: http.Server | undefined;
  let url = '';

  async function objectCreated(event: ObjectCreatedEvent): Promise<void> {
    try {
      for (const subscriber of subscribers) await subscriber(event);
    } catch (error) {
      // The object is stored; the client retries, and the retry's event is the one delivered.
      throw new S3Error(503, 'ServiceUnavailable', `The object was stored but its event notification failed: ${(error as Error).message}`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const requestId = newRequestId();
    let replyHeaders: OutgoingHttpHeaders = { 'x-amz-request-id': requestId, server: 'AmazonS3' };
    let target: RequestTarget | undefined;
    try {
      replyHeaders = { ...replyHeaders, ...corsReplyHeaders(cors, req.method ?? '', req.headers) };
      target = parseTarget(req.url ?? '/');
      if (req.method === 'OPTIONS') {
        req.resume();
        res.writeHead(200, { 'x-amz-request-id': requestId, 'content-length': 0, ...preflight(cors, req.headers) });
        res.end();
        return;
      }
      const auth = verifySigV4(
        { method: req.method ?? 'GET', rawPath: target.rawPath, query: target.query, rawHeaders: req.rawHeaders },
        { region: options.region, secretFor: (id) => secrets.get(id), now: Date.now() + clock.offsetMs },
      );
      const fault = faults.take(req.method ?? '', target.key);
      if (fault) throw fault;
      const ctx: S3Context = { req, res, target, auth, store, uploads, expectsContinue, replyHeaders, objectCreated };
      await route(ctx, options.region);
    } catch (error) {
      sendError(req, res, error, requestId, replyHeaders, expectsContinue, target);
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res, false);
  const checkContinueListener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res, true);

  return {
    listener,
    checkContinueListener,
    faults,
    clock,
    quarantined: store.quarantined,
    get url() {
      return url;
    },
    async listen(port = 0, host = '127.0.0.1') {
      const created = http.createServer(listener);
      created.on('checkContinue', checkContinueListener);
      await new Promise<void>((resolve, reject) => {
        created.once('error', reject);
        created.listen(port, host, () => {
          created.off('error', reject);
          resolve();
        });
      });
      server = created;
      const { port: bound } = created.address() as AddressInfo;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      return url;
    },
    onObjectCreated(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    async close() {
      const open = server;
      server = undefined;
      if (open) {
        await new Promise<void>((resolve) => {
          open.close(() => resolve());
          open.closeAllConnections();
        });
      }
    },
  };
}

/** createLocalS3 and listen, in one call. */
export async function startLocalS3(options: LocalS3Options & { port?: number; host?: string }): Promise<LocalS3> {
  const s3 = await createLocalS3(options);
  await s3.listen(options.port, options.host);
  return s3;
}

/** Dispatch on method, path level (service, bucket, object) and sub-resource, as S3 does. */
async function route(ctx: S3Context, region: string): Promise<void> {
  const { req, target } = ctx;
  const method = req.method ?? 'GET';
  const has = (name: string) => hasQuery(target, name);
  if (target.bucket === '') {
    if (method === 'GET') return listBuckets(ctx);
    throw s3Errors.methodNotAllowed(method);
  }
  if (target.key === '') {
    if (method === 'PUT' && target.query.length === 0) return createBucket(ctx);
    if (method === 'HEAD') return headBucket(ctx);
    if (method === 'DELETE' && target.query.length === 0) return deleteBucket(ctx);
    if (method === 'GET' && has('location')) return getBucketLocation(ctx, region);
    if (method === 'GET' && !BUCKET_SUBRESOURCES.some(has)) return listObjects(ctx);
    if (method === 'POST' && has('delete')) return deleteObjects(ctx);
    throw s3Errors.notImplemented(`${method} on a bucket with ?${target.query.map((p) => p.name).join('&')}`);
  }
  if (method === 'PUT' && has('uploadId')) return uploadPart(ctx);
  if (method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined) return copyObject(ctx);
  if (method === 'PUT' && !OBJECT_SUBRESOURCES.some(has)) return putObject(ctx);
  if (method === 'GET' && has('uploadId')) return listParts(ctx);
  if ((method === 'GET' || method === 'HEAD') && !OBJECT_SUBRESOURCES.some(has)) return getObject(ctx);
  if (method === 'DELETE' && has('uploadId')) return abortMultipartUpload(ctx);
  if (method === 'DELETE') return deleteObject(ctx);
  if (method === 'POST' && has('uploads')) return createMultipartUpload(ctx);
  if (method === 'POST' && has('uploadId')) return completeMultipartUpload(ctx);
  throw s3Errors.notImplemented(`${method} on an object with ?${target.query.map((p) => p.name).join('&')}`);
}

/** Bucket sub-resources this server does not implement: refused rather than answered as a listing. */
const BUCKET_SUBRESOURCES = ['acl', 'cors', 'lifecycle', 'notification', 'policy', 'tagging', 'versioning', 'versions', 'uploads', 'website', 'encryption', 'ownershipControls', 'publicAccessBlock', 'logging', 'replication', 'object-lock', 'accelerate', 'requestPayment', 'analytics', 'inventory', 'metrics', 'intelligent-tiering'];
const OBJECT_SUBRESOURCES = ['acl', 'tagging', 'retention', 'legal-hold', 'torrent', 'restore', 'attributes', 'select'];

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  requestId: string,
  replyHeaders: OutgoingHttpHeaders,
  expectsContinue: boolean,
  target: RequestTarget | undefined,
): void {
  if (error instanceof ClientAborted || res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (!(error instanceof S3Error)) console.error('local S3:', error);
  const reply = error instanceof S3Error ? error : s3Errors.internal(error instanceof Error ? error.message : String(error));
  const resource = target && target.bucket !== '' ? `/${target.bucket}${target.key === '' ? '' : `/${target.key}`}` : undefined;
  const body = req.method === 'HEAD' ? '' : s3ErrorXml(reply, requestId, resource);
  const headers: OutgoingHttpHeaders = {
    ...replyHeaders,
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
  };
  // A client waiting for 100-continue never sent its body; drop the connection rather than reuse it
  // with a body still owed. Other unread bodies are drained by Node, keeping the connection usable.
  if (expectsContinue && !req.complete) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(body);
}
