/**
 * SigV4 verification as S3 performs it, header or presigned-query authentication, as a pure
 * function of the request line, its headers and the clock: no sockets, no body. The body's hash
 * (when the client signed one) is returned for the caller to check once the body has arrived.
 *
 * Signed `content-type` and `content-length` need no special case: their received values are part
 * of the canonical request, so a body of another type or size breaks the signature, as on S3.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from './errors.ts';
import { decodeComponent, type QueryParam } from './target.ts';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** S3 refuses header-signed requests dated further than this from its clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** The longest presigned-URL lifetime SigV4 allows: seven days. */
export const MAX_PRESIGN_EXPIRES_SECONDS = 7 * 24 * 3600;
const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.';

export interface SigV4Request {
  method: string;
  /** The path as received, percent-encoded. */
  rawPath: string;
  query: readonly QueryParam[];
  /** Node's `req.rawHeaders`: name, value, name, value… as received. */
  rawHeaders: readonly string[];
}

export interface SigV4Settings {
  region: string;
  /** The secret for an access key id, or undefined if no such key exists. */
  secretFor(accessKeyId: string): string | undefined;
  /** The verifier's clock, ms since the epoch. */
  now: number;
  clockSkewMs?: number;
}

/** What the client signed about the body: nothing, or its SHA-256 (to check once it has arrived). */
export type SignedPayload = { kind: 'unsigned' } | { kind: 'sha256'; hex: string };

export interface Authenticated {
  via: 'header' | 'query';
  accessKeyId: string;
  payload: SignedPayload;
}

interface Claim {
  via: 'header' | 'query';
  accessKeyId: string;
  scope: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
}

/** Returns who signed the request, or throws the S3Error S3 would answer. */
export function verifySigV4(request: SigV4Request, settings: SigV4Settings): Authenticated {
  const headers = headerLists(request.rawHeaders);
  const hasHeader = headers.has('authorization');
  const hasQuery = request.query.some((p) => p.name === 'X-Amz-Algorithm');
  if (hasHeader && hasQuery) {
    throw new S3Error(
      400,
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (!hasHeader && !hasQuery) throw new S3Error(403, 'AccessDenied', 'Access Denied');
  const clockSkewMs = settings.clockSkewMs ?? MAX_CLOCK_SKEW_MS;
  const claim = hasHeader
    ? claimFromHeader(headers, settings.region, settings.now, clockSkewMs)
    : claimFromQuery(request.query, settings.region, settings.now, clockSkewMs);

  const secret = settings.secretFor(claim.accessKeyId);
  if (secret === undefined) {
    throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: claim.accessKeyId,
    });
  }
  if (!claim.signedHeaders.includes('host')) {
    throw malformed(claim.via, "Host must be among the signed headers (X-Amz-SignedHeaders / SignedHeaders must include 'host').");
  }
  const unsigned = [...headers.keys()].filter((name) => name.startsWith('x-amz-') && !claim.signedHeaders.includes(name));
  if (unsigned.length > 0) {
    throw new S3Error(403, 'AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: unsigned.join(', '),
    });
  }

  const canonicalRequest = [
    request.method,
    canonicalUri(request.rawPath),
    canonicalQuery(request.query, claim.via === 'query'),
    claim.signedHeaders.map((name) => `${name}:${(headers.get(name) ?? []).join(',')}\n`).join(''),
    claim.signedHeaders.join(';'),
    claim.payloadHash,
  ].join('\n');
  const stringToSign = [ALGORITHM, claim.amzDate, claim.scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = claim.scope
    .split('/')
    .reduce<Buffer | string>((key, part) => hmac(key, part), `AWS4${secret}`);
  const expected = Buffer.from(hmac(signingKey, stringToSign).toString('hex'));
  const provided = Buffer.from(claim.signature);
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw new S3Error(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH_MESSAGE, {
      AWSAccessKeyId: claim.accessKeyId,
      StringToSign: stringToSign,
      SignatureProvided: claim.signature,
      CanonicalRequest: canonicalRequest,
    });
  }
  const payload: SignedPayload = claim.payloadHash === UNSIGNED_PAYLOAD ? { kind: 'unsigned' } : { kind: 'sha256', hex: claim.payloadHash };
  return { via: claim.via, accessKeyId: claim.accessKeyId, payload };
}

/** The error S3 answers when a body does not hash to the signed x-amz-content-sha256. */
export function payloadMismatch(signed: string, computed: string): S3Error {
  return new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
    ClientComputedContentSHA256: signed,
    S3ComputedContentSHA256: computed,
  });
}

/** SigV4's URI encoding: everything but RFC 3986 unreserved characters. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/** Header values by lowercase name, in arrival order, whitespace-folded as SigV4 canonicalises them. */
function headerLists(rawHeaders: readonly string[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const list = values.get(name) ?? [];
    list.push(rawHeaders[i + 1]!.trim().replace(/\s+/g, ' '));
    values.set(name, list);
  }
  return values;
}

/** A header present exactly once (a repeated auth header counts as absent). */
function single(headers: Map<string, string[]>, name: string): string | undefined {
  const list = headers.get(name);
  return list?.length === 1 ? list[0] : undefined;
}

function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(time) ? undefined : time;
}

function malformed(via: 'header' | 'query', message: string): S3Error {
  return via === 'header'
    ? new S3Error(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`)
    : new S3Error(400, 'AuthorizationQueryParametersError', message);
}

/** `<AKID>/YYYYMMDD/REGION/s3/aws4_request`, checked against the request date and our region. */
function checkCredential(via: 'header' | 'query', credential: string, amzDate: string, region: string) {
  const what = via === 'header' ? 'the Credential' : 'Error parsing the X-Amz-Credential parameter;';
  const parts = credential.split('/');
  if (parts.length !== 5) throw malformed(via, `${what} is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  const [accessKeyId, scopeDate, scopeRegion, service, terminator] = parts as [string, string, string, string, string];
  if (scopeRegion !== region) throw malformed(via, `${what} the region '${scopeRegion}' is wrong; expecting '${region}'`);
  if (service !== SERVICE) throw malformed(via, `${what} incorrect service '${service}'. This endpoint belongs to '${SERVICE}'.`);
  if (terminator !== 'aws4_request') throw malformed(via, `${what} incorrect terminal '${terminator}'. This endpoint uses 'aws4_request'.`);
  if (scopeDate !== amzDate.slice(0, 8)) throw malformed(via, `${what} invalid credential date. Date is not the same as X-Amz-Date.`);
  return { accessKeyId, scope: `${scopeDate}/${scopeRegion}/${service}/${terminator}` };
}

function claimFromHeader(headers: Map<string, string[]>, region: string, now: number, clockSkewMs: number): Claim {
  const authorization = single(headers, 'authorization') ?? '';
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw new S3Error(400, 'InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization' });
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
  const amzDate = single(headers, 'x-amz-date');
  const requestTime = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || requestTime === undefined) {
    throw new S3Error(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const { accessKeyId, scope } = checkCredential('header', credential, amzDate, region);
  if (Math.abs(now - requestTime) > clockSkewMs) {
    throw new S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: amzDate,
      ServerTime: new Date(now).toISOString(),
      MaxAllowedSkewMilliseconds: String(clockSkewMs),
    });
  }
  const payloadHash = single(headers, 'x-amz-content-sha256');
  if (payloadHash === undefined) {
    throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (payloadHash.startsWith('STREAMING-')) {
    // aws-chunked framing (the SDKs' streamed checksums): not decoded here, so refused rather than stored framed.
    throw new S3Error(
      501,
      'NotImplemented',
      'aws-chunked (STREAMING-*) payloads are not supported locally; set AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED.',
    );
  }
  if (payloadHash !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw new S3Error(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.', {
      ArgumentName: 'x-amz-content-sha256',
      ArgumentValue: payloadHash,
    });
  }
  return { via: 'header', accessKeyId, scope, signedHeaders: signedHeaders.split(';'), signature, amzDate, payloadHash };
}

function claimFromQuery(query: readonly QueryParam[], region: string, now: number, clockSkewMs: number): Claim {
  const param = (name: string) => query.find((p) => p.name === name)?.value;
  if (param('X-Amz-Algorithm') !== ALGORITHM) throw malformed('query', `X-Amz-Algorithm only supports "${ALGORITHM}"`);
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
  if (requestTime === undefined) throw malformed('query', `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  if (!/^\d+$/.test(expires)) throw malformed('query', 'X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 1) throw malformed('query', 'X-Amz-Expires must be non-negative');
  if (expiresSeconds > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw malformed(
      'query',
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGN_EXPIRES_SECONDS} seconds`,
    );
  }
  const { accessKeyId, scope } = checkCredential('query', credential, amzDate, region);
  if (requestTime - now > clockSkewMs) throw new S3Error(403, 'AccessDenied', 'Request is not valid yet');
  const expiresAt = requestTime + expiresSeconds * 1000;
  if (now > expiresAt) {
    throw new S3Error(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: new Date(expiresAt).toISOString(),
      ServerTime: new Date(now).toISOString(),
    });
  }
  return {
    via: 'query',
    accessKeyId,
    scope,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    // A presigned URL never signs the body.
    payloadHash: UNSIGNED_PAYLOAD,
  };
}

/** S3 canonicalises the path once: each segment decoded, then SigV4-encoded (no double encoding). */
function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(decodeComponent(segment)))
    .join('/');
}

function canonicalQuery(query: readonly QueryParam[], presigned: boolean): string {
  return query
    .filter((p) => !(presigned && p.name === 'X-Amz-Signature'))
    .map((p) => [uriEncode(p.name), uriEncode(p.value)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}
