import { describe, expect, it } from 'vitest';
import { ApiRequestError, UploadError } from '#shared/client/pipeline-client.ts';
import { backoffDelay, isTransientError, RETRY_DEFAULTS, withRetry } from '#shared/retry.ts';

/** The one retry helper: what is retried, how long it waits, when it gives up. */

const fast = { baseDelayMs: 1, maxDelayMs: 2 };

describe('isTransientError', () => {
  it.each([
    ['a 429 from the API', new ApiRequestError(429, 'throttled', 'slow down'), true],
    ['a 503 from S3', new UploadError(503, 'SlowDown', 'Please reduce your request rate.'), true],
    ['a 500', new ApiRequestError(500, 'internal', 'internal error'), true],
    ['a 404', new ApiRequestError(404, 'not_found', 'no job'), false],
    ['a 403 from S3', new UploadError(403, 'AccessDenied', 'Request has expired'), false],
    ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
    ['fetch failing to connect', new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }), true],
    ['an abort', new DOMException('stopped', 'AbortError'), false],
    ['a missing file', Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), false],
    ['a plain bug', new TypeError('x is undefined'), false],
  ])('%s → %s', (_what, error, transient) => {
    expect(isTransientError(error)).toBe(transient);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially within its ceiling, with full jitter', () => {
    expect(backoffDelay(1, { random: () => 0.999 })).toBeLessThanOrEqual(RETRY_DEFAULTS.baseDelayMs);
    expect(backoffDelay(3, { baseDelayMs: 100, random: () => 1 })).toBe(400);
    expect(backoffDelay(30, { baseDelayMs: 100, maxDelayMs: 5000, random: () => 1 })).toBe(5000);
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
  });
});

describe('withRetry', () => {
  it('retries transient failures until the work succeeds', async () => {
    const seen: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new UploadError(503, 'SlowDown', 'later');
        return 'done';
      },
      { ...fast, onRetry: (_e, attempt) => seen.push(-attempt) },
    );
    expect(result).toBe('done');
    expect(seen).toEqual([1, -1, 2, -2, 3]);
  });

  it('gives up at once on an error retrying cannot fix', async () => {
    let calls = 0;
    const refusal = new ApiRequestError(422, 'unknown_model', 'no such model');
    await expect(withRetry(async () => (calls++, Promise.reject(refusal)), fast)).rejects.toBe(refusal);
    expect(calls).toBe(1);
  });

  it('throws the last error once the attempts are spent', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new ApiRequestError(503, 'unavailable', `attempt ${calls}`);
      }, { ...fast, attempts: 4 }),
    ).rejects.toThrow('attempt 4');
    expect(calls).toBe(4);
  });

  it('stops waiting when its signal aborts', async () => {
    const stop = new AbortController();
    const started = Date.now();
    const running = withRetry(
      async () => {
        throw new ApiRequestError(503, 'unavailable', 'down');
      },
      { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 1, signal: stop.signal },
    );
    setTimeout(() => stop.abort(new Error('stopped by the user')), 20);
    await expect(running).rejects.toThrow('stopped by the user');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
