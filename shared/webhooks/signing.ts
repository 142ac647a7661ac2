import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` is
 * `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, several space-separated while a
 * secret is being rotated; the key is the base64 part of a `whsec_…` secret. Pure: the sender
 * and the typed client's verifyWebhook share it.
 */

export const SECRET_PREFIX = 'whsec_';
/** A receiver refuses a timestamp further than this from its clock (replay protection). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function keyOf(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, 'base64');
}

export function signature(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The three headers of one delivery, signed with every given secret (newest first). */
export function signedHeaders(secrets: readonly string[], id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((secret) => signature(secret, id, timestamp, body)).join(' '),
  };
}

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

/**
 * Check a delivery as a receiver should: the timestamp within the tolerance, and one of the
 * signatures made with this secret over the raw body (before any JSON parsing). Returns the
 * parsed payload; throws WebhookVerificationError saying what is wrong.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined> | Headers,
  rawBody: string | Buffer,
  options: { toleranceSeconds?: number; now?: number } = {},
): unknown {
  const get = (name: string) => {
    const value = headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : (value ?? undefined);
  };
  const id = get('webhook-id');
  const timestamp = Number(get('webhook-timestamp'));
  const signatures = get('webhook-signature');
  if (!id || !signatures || !Number.isInteger(timestamp)) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) {
    throw new WebhookVerificationError('webhook-timestamp is too far from now');
  }
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  const expected = Buffer.from(signature(secret, id, timestamp, body));
  const matches = signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('no signature matches');
  return JSON.parse(body);
}
