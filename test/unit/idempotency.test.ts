import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idempotentJobId } from '#shared/jobs/idempotency.ts';
import { JOB_ID_PATTERN } from '#shared/storage/keys.ts';

const RFC_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('idempotentJobId', () => {
  it('names the same job for the same owner and key, every time', () => {
    expect(idempotentJobId('owner-1', 'order-42')).toBe(idempotentJobId('owner-1', 'order-42'));
  });

  it('names another job for another owner with the same key', () => {
    expect(idempotentJobId('owner-2', 'order-42')).not.toBe(idempotentJobId('owner-1', 'order-42'));
  });

  it('names another job for another key from the same owner', () => {
    expect(idempotentJobId('owner-1', 'order-43')).not.toBe(idempotentJobId('owner-1', 'order-42'));
  });

  it('cannot be confused by moving characters between owner and key', () => {
    expect(idempotentJobId('ab', 'c')).not.toBe(idempotentJobId('a', 'bc'));
  });

  it('is a job id the service accepts (JOB_ID_PATTERN)', () => {
    for (const [owner, key] of [['owner-1', 'order-42'], ['o', ''], ['🦄 owner', 'clé idempotente'], ['x'.repeat(300), 'k'.repeat(255)]] as const) {
      expect(idempotentJobId(owner, key), `${owner}/${key}`).toMatch(JOB_ID_PATTERN);
    }
  });

  it('is a version-8 UUID with the RFC 9562 variant, over many inputs', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = idempotentJobId(`owner-${i % 7}`, `key-${i}`);
      expect(id).toMatch(RFC_UUID);
      expect(id[14]).toBe('8');
      ids.add(id);
    }
    expect(ids.size).toBe(500);
  });

  it('stays stable across releases: the SHA-256 of owner and key, with version and variant bits set', () => {
    // The id is the hash's first 128 bits with the version and variant bits overwritten.
    const hex = createHash('sha256').update('owner-1\norder-42').digest('hex');
    const id = idempotentJobId('owner-1', 'order-42').replace(/-/g, '');
    expect(id.slice(0, 12)).toBe(hex.slice(0, 12));
    expect(id.slice(13, 16)).toBe(hex.slice(13, 16));
    expect(parseInt(id[16]!, 16) & 0x3).toBe(parseInt(hex[16]!, 16) & 0x3);
    expect(id.slice(17, 32)).toBe(hex.slice(17, 32));
  });
});
