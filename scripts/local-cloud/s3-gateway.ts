/**
 * The local cloud's S3 front door: a reverse proxy in front of s3rver that authenticates requests
 * the way S3 does (SigV4, header or presigned query), so a presigned upload URL that S3 would
 * refuse (wrong content-type or length, expired, tampered) is refused locally too.
 *
 * s3rver does not verify SigV4 signatures, and it accepts only its own built-in access key, so
 * once a request is verified here the gateway re-authenticates it upstream as s3rver's account.
 *
 * Request bodies are spooled to a temporary file (never held in memory) and sent upstream only
 * once complete: s3rver writes a PUT straight to the object's file, so an upload aborted mid-body
 * would otherwise leave a truncated object (and destroy the previous one). Spooling gives S3's
 * all-or-nothing PUT. Responses stream straight through.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LIMITS } from '#shared/config.ts';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** S3 rejects header-signed requests dated further than this from its clock. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 15 * 60;
/** s3rver's built-in account: the only access key it accepts (it checks the key, not the signature). */
const S3RVER_ACCESS_KEY_ID = 'S3RVER';
/** Presigned-URL parameters that carry authentication; everything else in the query is forwarded. */
const QUERY_AUTH_PARAMS = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
]);
/** Connection-level headers, never forwarded in either direction. */
const HOP_BY_HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);
const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.';

export interface S3GatewayOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Base URL of the s3rver instance, e.g. http://127.0.0.1:4569. */
  upstream: string;
  /** The region requests must be signed for. */
  region: string;
  /** The one key pair the gateway accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Allowed difference between a header-signed request's x-amz-date and now; default 900. */
  clockSkewSeconds?: number;
  /** Where request bodies are spooled; default a fresh temporary directory, removed on close. */
  spoolDirectory?: string;
}

export interface S3Gateway {
  /** http://HOST:PORT, the endpoint to give S3 clients and presigners. */
  url: string;
  faults: FaultInjector;
  /** The gateway's clock, as an offset from the machine's: tests move it forward to make URLs expire. */
  clock: { offsetMs: number };
  close(): Promise<void>;
}

/** A protocol-level failure to inject, like toxiproxy: matching requests get this S3 error. */
export interface FaultRule {
  /** HTTP method to match (any if omitted). */
  method?: string;
  /** Object key prefix to match, bucket excluded (any request if omitted; bucket-level requests have key ''). */
  keyPrefix?: string;
  /** HTTP status of the injected error, 400..599. */
  status: number;
  /** S3 error code, e.g. 'SlowDown'; defaults from the status. */
  code?: string;
  message?: string;
  /** How many matching requests fail before the rule is spent. */
  times: number;
}

export interface ArmedFault {
  readonly rule: Readonly<FaultRule>;
  /** Requests this rule has failed so far. */
  readonly hits: number;
  readonly remaining: number;
}

export interface FaultInjector {
  /** Make the next `times` matching authenticated requests fail, before anything reaches upstream. */
  add(rule: FaultRule): ArmedFault;
  /** Disarm every rule (the hit counter is kept). */
  clear(): void;
  /** Faults injected since the gateway started. */
  readonly hits: number;
}

/** An S3 error reply: status, code, message and any extra elements S3 adds (e.g. StringToSign). */
export class S3ErrorReply extends Error {
  override readonly name = 'S3ErrorReply';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const xmlEscape = (text: string): string =>
  text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The S3 error document. */
export function s3ErrorXml(
  code: string,
  message: string,
  requestId: string = newRequestId(),
  details: Readonly<Record<string, string>> = {},
): string {
  const extra = Object.entries(details)
    .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${extra}` +
    `<RequestId>${xmlEscape(requestId)}</RequestId></Error>`
  );
}

function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export async function startS3Gateway(opts: S3GatewayOptions): Promise<S3Gateway> {
  const upstream = new URL(opts.upstream);
  if (upstream.protocol !== 'http:') throw new Error(`s3 gateway: upstream must be http, got ${opts.upstream}`);
  const ownsSpool = opts.spoolDirectory === undefined;
  const spoolDirectory = opts.spoolDirectory ?? (await mkdtemp(path.join(os.tmpdir(), 's3-gateway-')));
  const verifier: Verifier = {
    region: opts.region,
    credentials: opts.credentials,
    clockSkewMs: (opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000,
  };
  const faults = new FaultList();
  const clock = { offsetMs: 0 };
  const agent = new http.Agent({ keepAlive: true });
  const proxy = { upstream, agent, spoolDirectory, region: opts.region };

  const server = http.createServer((req, res) => {
    void handle(req, res, false);
  });
  // Answer `Expect: 100-continue` ourselves so a refused upload is refused before its body is sent.
  server.on('checkContinue', (req, res) => {
    void handle(req, res, true);
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean) {
    const requestId = newRequestId();
    try {
      const target = parseTarget(req.url ?? '/');
      // CORS preflights are never signed; s3rver answers them from the bucket's CORS rules.
      if (req.method === 'OPTIONS') return await forward(req, res, target, proxy, { authenticated: false, expectsContinue });
      verifyRequest(req, target, verifier, Date.now() + clock.offsetMs);
      const fault = faults.take(req.method ?? '', target.key);
      if (fault) throw fault;
      if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) {
        throw new S3ErrorReply(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
      }
      await forward(req, res, target, proxy, { authenticated: true, expectsContinue });
    } catch (err) {
      const reply =
        err instanceof S3ErrorReply
          ? err
          : new S3ErrorReply(500, 'InternalError', `s3 gateway: ${err instanceof Error ? err.message : String(err)}`);
      sendError(req, res, reply, requestId, expectsContinue);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    faults,
    clock,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
      if (ownsSpool) await rm(spoolDirectory, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Request target

interface QueryParam {
  /** As received, for forwarding unchanged. */
  raw: string;
  name: string;
  value: string;
}

interface RequestTarget {
  rawPath: string;
  query: QueryParam[];
  bucket: string;
  /** Object key (decoded), '' for service- and bucket-level requests. */
  key: string;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3ErrorReply(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
}

function parseTarget(url: string): RequestTarget {
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3ErrorReply(400, 'InvalidURI', "Couldn't parse the specified URI.");
  const query = rawQuery
    .split('&')
    .filter((raw) => raw !== '')
    .map((raw) => {
      const eq = raw.indexOf('=');
      const name = eq === -1 ? raw : raw.slice(0, eq);
      const value = eq === -1 ? '' : raw.slice(eq + 1);
      return { raw, name: decodeComponent(name), value: decodeComponent(value) };
    });
  const [, bucket = '', ...keyParts] = rawPath.split('/').map(decodeComponent);
  return { rawPath, query, bucket, key: keyParts.join('/') };
}

// ---------------------------------------------------------------------------------------------
// SigV4 verification

interface Verifier {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  clockSkewMs: number;
}

/** What a request's authentication says, whichever way it was sent. */
interface SigV4Claim {
  via: 'header' | 'query';
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
}

/** SigV4's URI encoding: everything but RFC 3986 unreserved characters. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(time) ? undefined : time;
}

function parseCredential(credential: string) {
  const parts = credential.split('/');
  if (parts.length !== 5) return undefined;
  const [accessKeyId, scopeDate, region, service, terminator] = parts as [string, string, string, string, string];
  return { accessKeyId, scopeDate, region, service, terminator };
}

/** Throws the S3 error S3 would return, or returns when the request is authentic. */
function verifyRequest(req: http.IncomingMessage, target: RequestTarget, verifier: Verifier, now: number): void {
  const hasHeader = req.headers.authorization !== undefined;
  const hasQuery = target.query.some((p) => p.name === 'X-Amz-Algorithm');
  if (hasHeader && hasQuery) {
    throw new S3ErrorReply(
      400,
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (!hasHeader && !hasQuery) throw new S3ErrorReply(403, 'AccessDenied', 'Access Denied');
  const claim = hasHeader ? claimFromHeader(req, verifier, now) : claimFromQuery(target, verifier, now);

  if (claim.accessKeyId !== verifier.credentials.accessKeyId) {
    throw new S3ErrorReply(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: claim.accessKeyId,
    });
  }
  if (!claim.signedHeaders.includes('host')) {
    throw malformed(claim.via, "Host must be among the signed headers (X-Amz-SignedHeaders / SignedHeaders must include 'host').");
  }
  const unsigned = Object.keys(req.headers).filter((name) => name.startsWith('x-amz-') && !claim.signedHeaders.includes(name));
  if (unsigned.length > 0) {
    throw new S3ErrorReply(403, 'AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: unsigned.join(', '),
    });
  }

  const canonicalRequest = [
    req.method ?? 'GET',
    canonicalUri(target.rawPath),
    canonicalQuery(target.query, claim.via === 'query'),
    canonicalHeaders(req.rawHeaders, claim.signedHeaders),
    claim.signedHeaders.join(';'),
    claim.payloadHash,
  ].join('\n');
  const scope = `${claim.scopeDate}/${claim.region}/${claim.service}/${claim.terminator}`;
  const stringToSign = [ALGORITHM, claim.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = [claim.scopeDate, claim.region, claim.service, claim.terminator].reduce<Buffer | string>(
    (key, part) => hmac(key, part),
    `AWS4${verifier.credentials.secretAccessKey}`,
  );
  const expected = Buffer.from(hmac(signingKey, stringToSign).toString('hex'));
  const provided = Buffer.from(claim.signature);
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw new S3ErrorReply(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH_MESSAGE, {
      AWSAccessKeyId: claim.accessKeyId,
      StringToSign: stringToSign,
      SignatureProvided: claim.signature,
      CanonicalRequest: canonicalRequest,
    });
  }
}

function malformed(via: 'header' | 'query', message: string): S3ErrorReply {
  return via === 'header'
    ? new S3ErrorReply(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`)
    : new S3ErrorReply(400, 'AuthorizationQueryParametersError', message);
}

function checkScope(via: 'header' | 'query', scope: ReturnType<typeof parseCredential>, amzDate: string, region: string) {
  const what = via === 'header' ? 'the Credential' : 'Error parsing the X-Amz-Credential parameter;';
  if (!scope) throw malformed(via, `${what} is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  if (scope.region !== region) throw malformed(via, `${what} the region '${scope.region}' is wrong; expecting '${region}'`);
  if (scope.service !== SERVICE) throw malformed(via, `${what} incorrect service '${scope.service}'. This endpoint belongs to '${SERVICE}'.`);
  if (scope.terminator !== 'aws4_request') throw malformed(via, `${what} incorrect terminal '${scope.terminator}'. This endpoint uses 'aws4_request'.`);
  if (scope.scopeDate !== amzDate.slice(0, 8)) throw malformed(via, `${what} invalid credential date. Date is not the same as X-Amz-Date.`);
  return scope;
}

function claimFromHeader(req: http.IncomingMessage, verifier: Verifier, now: number): SigV4Claim {
  const authorization = req.headers.authorization ?? '';
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw new S3ErrorReply(400, 'InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization' });
  }
  const fields = new Map(
    authorization
      .slice(ALGORITHM.length + 1)
      .split(',')
      .map((field) => {
        const eq = field.indexOf('=');
        return [field.slice(0, eq).trim(), field.slice(eq + 1).trim()] as const;
      }),
  );
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw malformed('header', 'the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const amzDate = header(req, 'x-amz-date');
  const requestTime = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || requestTime === undefined) {
    throw new S3ErrorReply(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const scope = checkScope('header', parseCredential(credential), amzDate, verifier.region);
  if (Math.abs(now - requestTime) > verifier.clockSkewMs) {
    throw new S3ErrorReply(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: amzDate,
      ServerTime: new Date(now).toISOString(),
      MaxAllowedSkewMilliseconds: String(verifier.clockSkewMs),
    });
  }
  const payloadHash = header(req, 'x-amz-content-sha256');
  if (payloadHash === undefined) {
    throw new S3ErrorReply(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (payloadHash.startsWith('STREAMING-')) {
    // aws-chunked framing: s3rver would store the chunk framing as the object's bytes.
    throw new S3ErrorReply(
      501,
      'NotImplemented',
      'aws-chunked (STREAMING-*) payloads are not supported locally; set AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED.',
    );
  }
  if (payloadHash !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw new S3ErrorReply(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.', {
      ArgumentName: 'x-amz-content-sha256',
      ArgumentValue: payloadHash,
    });
  }
  return { via: 'header', ...scope, signedHeaders: signedHeaders.split(';'), signature, amzDate, payloadHash };
}

function claimFromQuery(target: RequestTarget, verifier: Verifier, now: number): SigV4Claim {
  const param = (name: string) => target.query.find((p) => p.name === name)?.value;
  if (param('X-Amz-Algorithm') !== ALGORITHM) {
    throw malformed('query', `X-Amz-Algorithm only supports "${ALGORITHM}"`);
  }
  const credential = param('X-Amz-Credential');
  const amzDate = param('X-Amz-Date');
  const expires = param('X-Amz-Expires');
  const signedHeaders = param('X-Amz-SignedHeaders');
  const signature = param('X-Amz-Signature');
  if (!credential || !amzDate || !expires || !signedHeaders || !signature) {
    throw malformed(
      'query',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const requestTime = parseAmzDate(amzDate);
  if (requestTime === undefined) {
    throw malformed('query', `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  }
  if (!/^\d+$/.test(expires)) throw malformed('query', 'X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 1) throw malformed('query', 'X-Amz-Expires must be non-negative');
  if (expiresSeconds > LIMITS.PRESIGN_MAX_SECONDS) {
    throw malformed(
      'query',
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${LIMITS.PRESIGN_MAX_SECONDS} seconds`,
    );
  }
  const scope = checkScope('query', parseCredential(credential), amzDate, verifier.region);
  if (requestTime - now > verifier.clockSkewMs) {
    throw new S3ErrorReply(403, 'AccessDenied', 'Request is not valid yet');
  }
  const expiresAt = requestTime + expiresSeconds * 1000;
  if (now > expiresAt) {
    throw new S3ErrorReply(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: new Date(expiresAt).toISOString(),
      ServerTime: new Date(now).toISOString(),
    });
  }
  return {
    via: 'query',
    ...scope,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    payloadHash: UNSIGNED_PAYLOAD,
  };
}

/** The header's value, if present once (a repeated header counts as absent for auth fields). */
function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** S3 canonicalises the path once: each segment decoded, then SigV4-encoded (no double encoding). */
function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(decodeComponent(segment)))
    .join('/');
}

function canonicalQuery(query: QueryParam[], presigned: boolean): string {
  return query
    .filter((p) => !(presigned && p.name === 'X-Amz-Signature'))
    .map((p) => [uriEncode(p.name), uriEncode(p.value)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** From the headers as received (not Node's merged view), so repeated headers join with ',' as SigV4 says. */
function canonicalHeaders(rawHeaders: string[], signedHeaders: string[]): string {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const list = values.get(name) ?? [];
    list.push(rawHeaders[i + 1]!.trim().replace(/\s+/g, ' '));
    values.set(name, list);
  }
  return signedHeaders.map((name) => `${name}:${(values.get(name) ?? []).join(',')}\n`).join('');
}

// ---------------------------------------------------------------------------------------------
// Faults

const DEFAULT_FAULT_CODES: Readonly<Record<number, string>> = {
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

class FaultList implements FaultInjector {
  #armed: Array<{ rule: Readonly<FaultRule>; hits: number; remaining: number }> = [];
  #hits = 0;

  get hits(): number {
    return this.#hits;
  }

  add(rule: FaultRule): ArmedFault {
    if (!Number.isInteger(rule.times) || rule.times < 1) throw new RangeError(`fault times must be a positive integer, got ${rule.times}`);
    if (!Number.isInteger(rule.status) || rule.status < 400 || rule.status > 599) {
      throw new RangeError(`fault status must be 400..599, got ${rule.status}`);
    }
    const armed = { rule: Object.freeze({ ...rule }), hits: 0, remaining: rule.times };
    this.#armed.push(armed);
    return {
      rule: armed.rule,
      get hits() {
        return armed.hits;
      },
      get remaining() {
        return armed.remaining;
      },
    };
  }

  clear(): void {
    for (const armed of this.#armed) armed.remaining = 0;
    this.#armed = [];
  }

  /** The error for this request if a rule matches it (and spends one of that rule's times). */
  take(method: string, key: string): S3ErrorReply | undefined {
    const armed = this.#armed.find(
      ({ rule, remaining }) =>
        remaining > 0 &&
        (rule.method === undefined || rule.method.toUpperCase() === method.toUpperCase()) &&
        (rule.keyPrefix === undefined || key.startsWith(rule.keyPrefix)),
    );
    if (!armed) return undefined;
    armed.remaining -= 1;
    armed.hits += 1;
    this.#hits += 1;
    if (armed.remaining === 0) this.#armed = this.#armed.filter((a) => a !== armed);
    const code = armed.rule.code ?? DEFAULT_FAULT_CODES[armed.rule.status] ?? 'InjectedFault';
    return new S3ErrorReply(armed.rule.status, code, armed.rule.message ?? `Injected fault: ${code}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Proxying

interface Proxy {
  upstream: URL;
  agent: http.Agent;
  spoolDirectory: string;
  region: string;
}

/** Thrown when the client went away mid-body: nothing to answer, nothing sent upstream. */
class ClientAborted extends Error {
  override readonly name = 'ClientAborted';
}

function formatAmzDate(time: Date): string {
  return time.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

async function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: RequestTarget,
  proxy: Proxy,
  { authenticated, expectsContinue }: { authenticated: boolean; expectsContinue: boolean },
): Promise<void> {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name) && name !== 'host' && name !== 'content-length') {
      headers[name] = value;
    }
  }
  headers.host = proxy.upstream.host;
  if (authenticated) {
    // Verified here; upstream we are s3rver's own account (it checks the key and the date only).
    const amzDate = formatAmzDate(new Date());
    headers.authorization = `${ALGORITHM} Credential=${S3RVER_ACCESS_KEY_ID}/${amzDate.slice(0, 8)}/${proxy.region}/${SERVICE}/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`;
    headers['x-amz-date'] = amzDate;
    headers['x-amz-content-sha256'] ??= UNSIGNED_PAYLOAD;
  }
  const forwardedQuery = target.query.filter((p) => !QUERY_AUTH_PARAMS.has(p.name)).map((p) => p.raw);
  const upstreamPath =
    proxy.upstream.pathname.replace(/\/$/, '') + target.rawPath + (forwardedQuery.length > 0 ? `?${forwardedQuery.join('&')}` : '');

  const declaredLength = Number(req.headers['content-length'] ?? 0);
  let spoolFile: string | undefined;
  try {
    if (declaredLength > 0) {
      if (expectsContinue) res.writeContinue();
      spoolFile = path.join(proxy.spoolDirectory, randomUUID());
      await spool(req, spoolFile, declaredLength);
    } else {
      req.resume();
    }
    headers['content-length'] = String(spoolFile === undefined ? 0 : declaredLength);
    const upstreamRes = await send(proxy, req.method ?? 'GET', upstreamPath, headers, spoolFile);
    const responseHeaders: string[] = [];
    for (let i = 0; i + 1 < upstreamRes.rawHeaders.length; i += 2) {
      const name = upstreamRes.rawHeaders[i]!;
      if (!HOP_BY_HOP_HEADERS.has(name.toLowerCase())) responseHeaders.push(name, upstreamRes.rawHeaders[i + 1]!);
    }
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders);
    await pipeline(upstreamRes, res).catch(() => {
      // The client hung up mid-response; pipeline has destroyed the upstream response.
    });
  } catch (err) {
    if (err instanceof ClientAborted) {
      res.destroy();
      return;
    }
    throw err;
  } finally {
    if (spoolFile !== undefined) await unlink(spoolFile).catch(() => undefined);
  }
}

async function spool(req: http.IncomingMessage, file: string, declaredLength: number): Promise<void> {
  const out = createWriteStream(file);
  try {
    await pipeline(req, out);
  } catch {
    throw new ClientAborted('client aborted the request body');
  }
  // Node's parser stops at content-length, so fewer bytes means the body ended early.
  if (out.bytesWritten !== declaredLength) {
    throw new ClientAborted(`body was ${out.bytesWritten} of ${declaredLength} bytes`);
  }
}

function send(
  proxy: Proxy,
  method: string,
  upstreamPath: string,
  headers: http.OutgoingHttpHeaders,
  bodyFile: string | undefined,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const upstreamReq = http.request(
      {
        protocol: proxy.upstream.protocol,
        hostname: proxy.upstream.hostname,
        port: proxy.upstream.port,
        method,
        path: upstreamPath,
        headers,
        agent: proxy.agent,
      },
      resolve,
    );
    const unavailable = (err: Error) =>
      reject(new S3ErrorReply(503, 'ServiceUnavailable', `The local S3 upstream is unavailable: ${err.message}`));
    upstreamReq.on('error', unavailable);
    if (bodyFile === undefined) {
      upstreamReq.end();
    } else {
      pipeline(createReadStream(bodyFile), upstreamReq).catch(unavailable);
    }
  });
}

function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  reply: S3ErrorReply,
  requestId: string,
  expectsContinue: boolean,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = req.method === 'HEAD' ? '' : s3ErrorXml(reply.code, reply.message, requestId, reply.details);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
  };
  // A client waiting for 100-continue never sent its body; drop the connection rather than reuse it
  // with a body still owed. Other unread bodies are drained by Node, keeping the connection usable.
  if (expectsContinue && !req.complete) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(body);
}
