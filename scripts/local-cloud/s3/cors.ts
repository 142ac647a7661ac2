/**
 * Bucket CORS evaluated as S3 evaluates it: the first rule matching the origin, method and (for
 * a preflight) every requested header wins. S3 adds CORS headers to every reply to a matching
 * request, error replies included, so a browser sees the S3 error instead of "Failed to fetch".
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { S3Error } from './errors.ts';

export interface CorsRule {
  allowedOrigins: readonly string[];
  allowedMethods: readonly string[];
  /** Lowercase names; `*` is a wildcard, as in S3's AllowedHeader. */
  allowedHeaders: readonly string[];
  exposedHeaders: readonly string[];
  maxAgeSeconds: number;
}

/** S3 allows one `*` wildcard in an AllowedOrigin / AllowedHeader. */
function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

function matchingRule(rules: readonly CorsRule[], origin: string, method: string, requestHeaders: readonly string[]): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((allowed) => wildcardMatch(allowed.toLowerCase(), h))),
  );
}

function allowOrigin(rule: CorsRule, origin: string): string {
  // A rule allowing any origin answers `*` (S3 does, for rules with AllowedOrigin *).
  return rule.allowedOrigins.includes('*') ? '*' : origin;
}

/** Headers S3 adds to an actual (non-preflight) reply, or none if no rule matches. */
export function corsReplyHeaders(rules: readonly CorsRule[], method: string, headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const origin = headers.origin;
  if (origin === undefined) return {};
  const rule = matchingRule(rules, origin, method, []);
  if (!rule) return {};
  return {
    'access-control-allow-origin': allowOrigin(rule, origin),
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    ...(rule.exposedHeaders.length > 0 ? { 'access-control-expose-headers': rule.exposedHeaders.join(', ') } : {}),
    'access-control-max-age': String(rule.maxAgeSeconds),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}

const CORS_REFUSED =
  'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.';

/** The reply headers for a preflight (OPTIONS), or throws the S3Error S3 answers. */
export function preflight(rules: readonly CorsRule[], headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const origin = headers.origin;
  const method = headers['access-control-request-method'];
  if (origin === undefined) throw new S3Error(400, 'BadRequest', 'Insufficient information. Origin request header needed.');
  if (method === undefined) throw new S3Error(400, 'BadRequest', 'Invalid Access-Control-Request-Method: null');
  const requested = (headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const rule = matchingRule(rules, origin, method, requested);
  if (!rule) throw new S3Error(403, 'AccessForbidden', CORS_REFUSED, { Method: method, ResourceType: 'OBJECT' });
  return {
    'access-control-allow-origin': allowOrigin(rule, origin),
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    ...(requested.length > 0 ? { 'access-control-allow-headers': requested.join(', ') } : {}),
    ...(rule.exposedHeaders.length > 0 ? { 'access-control-expose-headers': rule.exposedHeaders.join(', ') } : {}),
    'access-control-max-age': String(rule.maxAgeSeconds),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
}
