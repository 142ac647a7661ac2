import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '#shared/auth/api-keys.ts';
import type { Plan } from '#shared/auth/plans.ts';
import { limitsClock } from '#shared/auth/rate-limits.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * Per-key plans (rate, burst, quota per day/month), enforced by the API before any work and
 * counted in the local DynamoDB. The limits' clock is frozen or moved by each test, so "at once"
 * and "the next day" are exact, not a matter of timing.
 */

let t: TestCloud;
let api: string;

beforeAll(async () => {
  t = await startTestCloud({ allowedOrigins: ['https://app.example'] });
  api = t.cloud.endpoints.apiUrl;
});
afterAll(() => t?.stop());
afterEach(() => {
  limitsClock.now = () => Date.now();
});

const freezeAt = (iso: string) => {
  const at = Date.parse(iso);
  limitsClock.now = () => at;
};

async function keyWith(plan: Plan, owner = 'limits-owner'): Promise<string> {
  return (await createApiKey(owner, 'access test', undefined, plan)).key;
}

async function call(key: string, method = 'GET', path = '/v1/models', body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(api + path, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const batchOf = (n: number) => ({ items: Array.from({ length: n }, () => ({ contentType: 'image/png', contentLength: 100 })) });

describe('rate and burst', () => {
  it('lets exactly the burst through when a burst over it arrives at once, and answers the rest 429 rate_limited with Retry-After', async () => {
    freezeAt('2030-03-10T12:00:00Z');
    const key = await keyWith({ rate: 1, burst: 5, quota: 1000, quotaPeriod: 'day' });
    const replies = await Promise.all(Array.from({ length: 20 }, () => call(key)));
    const allowed = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect(allowed).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expect(r.body.error.code).toBe('rate_limited');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.headers.get('ratelimit-remaining')).toBe('0');
    }
  });

  it('refills at the steady rate: one more request a second later', async () => {
    freezeAt('2030-03-11T12:00:00Z');
    const key = await keyWith({ rate: 1, burst: 2, quota: 1000, quotaPeriod: 'day' });
    expect((await call(key)).status).toBe(200);
    expect((await call(key)).status).toBe(200);
    expect((await call(key)).status).toBe(429);
    freezeAt('2030-03-11T12:00:01Z');
    expect((await call(key)).status).toBe(200);
    expect((await call(key)).status).toBe(429);
  });
});

describe('quota', () => {
  it('lets exactly the quota through under concurrency', async () => {
    freezeAt('2030-04-01T08:00:00Z');
    const key = await keyWith({ rate: 1000, burst: 1000, quota: 7, quotaPeriod: 'day' });
    const replies = await Promise.all(Array.from({ length: 20 }, () => call(key)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(7);
    expect(replies.filter((r) => r.status === 429 && r.body.error.code === 'quota_exceeded')).toHaveLength(13);
  });

  it('refuses over the daily quota with the reset time, and allows again after midnight UTC', async () => {
    freezeAt('2030-05-01T23:59:58Z');
    const key = await keyWith({ rate: 1000, burst: 1000, quota: 2, quotaPeriod: 'day' });
    expect((await call(key)).headers.get('ratelimit-remaining')).toBe('1');
    expect((await call(key)).status).toBe(200);
    const over = await call(key);
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: 'quota_exceeded', details: { resetsAt: '2030-05-02T00:00:00.000Z' } });
    expect(over.headers.get('ratelimit-reset')).toBe('2');

    freezeAt('2030-05-02T00:00:00Z');
    const next = await call(key);
    expect(next.status).toBe(200);
    expect(next.headers.get('ratelimit-limit')).toBe('2');
    expect(next.headers.get('ratelimit-remaining')).toBe('1');
  });

  it('resets a monthly quota on the first of the month', async () => {
    freezeAt('2030-06-30T12:00:00Z');
    const key = await keyWith({ rate: 1000, burst: 1000, quota: 1, quotaPeriod: 'month' });
    expect((await call(key)).status).toBe(200);
    freezeAt('2030-06-30T23:59:59Z');
    expect((await call(key)).body.error.details.resetsAt).toBe('2030-07-01T00:00:00.000Z');
    freezeAt('2030-07-01T00:00:00Z');
    expect((await call(key)).status).toBe(200);
  });

  it('counts a batch as its number of items', async () => {
    freezeAt('2030-07-15T10:00:00Z');
    const key = await keyWith({ rate: 1000, burst: 1000, quota: 5, quotaPeriod: 'day' });
    const first = await call(key, 'POST', '/v1/batches', batchOf(3));
    expect(first.status).toBe(201);
    expect(first.headers.get('ratelimit-remaining')).toBe('2');
    const second = await call(key, 'POST', '/v1/batches', batchOf(3));
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('quota_exceeded');
    expect((await call(key, 'POST', '/v1/batches', batchOf(2))).status).toBe(201);
  });

  it('leaves another key of the same owner unaffected', async () => {
    freezeAt('2030-08-01T10:00:00Z');
    const spent = await keyWith({ rate: 1000, burst: 1000, quota: 1, quotaPeriod: 'day' }, 'shared-owner');
    const other = await keyWith({ rate: 1000, burst: 1000, quota: 1, quotaPeriod: 'day' }, 'shared-owner');
    expect((await call(spent)).status).toBe(200);
    expect((await call(spent)).status).toBe(429);
    expect((await call(other)).status).toBe(200);
  });
});

describe('headers', () => {
  it('puts RateLimit-Limit, -Remaining and -Reset on every reply of an authenticated route, errors included, and exposes them to pages', async () => {
    freezeAt('2030-09-01T00:00:00Z');
    const key = await keyWith({ rate: 1000, burst: 1000, quota: 100, quotaPeriod: 'day' });
    const ok = await call(key, 'GET', '/v1/models', undefined, { origin: 'https://app.example' });
    expect(ok.headers.get('ratelimit-limit')).toBe('100');
    expect(ok.headers.get('ratelimit-remaining')).toBe('99');
    expect(ok.headers.get('ratelimit-reset')).toBe(String(86_400));
    expect(ok.headers.get('access-control-expose-headers')).toContain('ratelimit-remaining');
    const missing = await call(key, 'GET', '/v1/jobs/no-such-job');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('ratelimit-remaining')).toBe('98');
  });

  it('charges nothing and sets no limit headers on public routes or refused credentials', async () => {
    const health = await fetch(`${api}/v1/health`);
    expect(health.headers.get('ratelimit-limit')).toBeNull();
    const unknown = await call('aip_not-a-key');
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('ratelimit-limit')).toBeNull();
  });
});
