import { createHash } from 'node:crypto';

/**
 * Idempotency-Key support: a request is identified by the hash of its canonical JSON, and the
 * ids of what it creates are derived from (owner, key), so a replay finds what the first try made.
 */

/** JSON with sorted keys, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** SHA-256 of a request as canonical JSON: equal requests hash equally whatever their key order. */
export function requestHashOf(request: unknown): string {
  return sha256(canonicalJson(request)).toString('hex');
}

/**
 * A UUID-shaped id derived from its parts. The parts are joined with newlines, which an HTTP
 * header value cannot contain, so (owner, key) and (owner, key, "batch", …) never collide.
 */
export function derivedId(...parts: string[]): string {
  const h = sha256(parts.join('\n')).toString('hex');
  // Formatted as a UUID (version nibble 8, RFC 9562 "custom") so it passes the job-id pattern.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A job id derived from (owner, Idempotency-Key): the same pair always names the same job. */
export function idempotentJobId(ownerId: string, idempotencyKey: string): string {
  return derivedId(ownerId, idempotencyKey);
}

/** A batch's id and its jobs' ids derived from (owner, Idempotency-Key). */
export function idempotentBatchIds(ownerId: string, idempotencyKey: string, items: number): { batchId: string; jobIds: string[] } {
  return {
    batchId: derivedId(ownerId, idempotencyKey, 'batch'),
    jobIds: Array.from({ length: items }, (_, i) => derivedId(ownerId, idempotencyKey, 'batch', String(i))),
  };
}
