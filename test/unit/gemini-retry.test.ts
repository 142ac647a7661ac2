import { describe, expect, it } from 'vitest';
import { describeCallFailure, retryAfterMs, retryDelayMs, retryInfoDelayMs } from '#shared/inference/gemini/retry.ts';

/** Which failed Gemini calls are retried, and after how long. */

/** An error shaped like @google/genai's ApiError: the status, and the response body as JSON text. */
function apiError(status: number, body: unknown): Error & { status: number } {
  return Object.assign(new Error(JSON.stringify(body)), { name: 'ApiError', status });
}

const retryInfo = (retryDelay: unknown) => ({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay });

describe('server retry delays', () => {
  it.each([
    ['37s', 37_000],
    ['0.250s', 250],
    ['1.5s', 1_500],
    [{ seconds: 2, nanos: 500_000_000 }, 2_500],
    [{ seconds: '3' }, 3_000],
  ])('reads RetryInfo retryDelay %j as %i ms', (delay, ms) => {
    expect(retryInfoDelayMs([{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure' }, retryInfo(delay)])).toBe(ms);
  });

  it('finds no delay without RetryInfo or with a malformed one', () => {
    expect(retryInfoDelayMs(undefined)).toBeUndefined();
    expect(retryInfoDelayMs([{ '@type': 'type.googleapis.com/google.rpc.Help' }])).toBeUndefined();
    expect(retryInfoDelayMs([retryInfo('soon')])).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('12', now)).toBe(12_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('later', now)).toBeUndefined();
  });
});

describe('call failures', () => {
  it('retries a 429 and keeps its RetryInfo delay over a Retry-After header', () => {
    const error = apiError(429, { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota', details: [retryInfo('7s')] } });
    expect(describeCallFailure(error, '30')).toEqual({
      retryable: true,
      status: 429,
      timedOut: false,
      serverDelayMs: 7_000,
      message: '429 RESOURCE_EXHAUSTED: quota',
      keyRejected: false,
    });
  });

  it('falls back to Retry-After when the body has no RetryInfo', () => {
    const error = apiError(503, { error: { code: 503, status: 'UNAVAILABLE', message: 'overloaded' } });
    expect(describeCallFailure(error, '2')).toMatchObject({ retryable: true, status: 503, serverDelayMs: 2_000 });
  });

  it.each([408, 500, 502, 503, 504])('retries HTTP %i', (status) => {
    expect(describeCallFailure(apiError(status, { error: { code: status, message: 'x' } })).retryable).toBe(true);
  });

  it.each([400, 401, 403, 404, 413])('does not retry HTTP %i', (status) => {
    expect(describeCallFailure(apiError(status, { error: { code: status, message: 'x' } })).retryable).toBe(false);
  });

  it('keeps a non-JSON error body as the message', () => {
    expect(describeCallFailure(apiError(502, 'gateway')).message).toBe('502 "gateway"');
  });

  it('retries a per-call timeout and says so', () => {
    const abort = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    expect(describeCallFailure(abort)).toEqual({ retryable: true, timedOut: true, message: 'the call timed out', keyRejected: false });
  });

  it('retries a network failure, naming its cause', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    expect(describeCallFailure(refused)).toEqual({ retryable: true, timedOut: false, message: 'fetch failed (ECONNREFUSED)', keyRejected: false });
  });

  it.each([
    ['400 API_KEY_INVALID', 400, [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }], true],
    ['401', 401, undefined, true],
    ['403', 403, undefined, true],
    ['another 400', 400, [{ '@type': 'type.googleapis.com/google.rpc.BadRequest' }], false],
  ])('says whether the key was refused: %s', (_case, status, details, refused) => {
    const failure = describeCallFailure(apiError(status, { error: { code: status, status: 'X', message: 'm', details } }));
    expect(failure).toMatchObject({ retryable: false, keyRejected: refused });
  });
});

describe('backoff', () => {
  const backoff = { baseMs: 1_000, maxMs: 30_000 };

  it('doubles its ceiling per attempt, with full jitter below it', () => {
    expect(retryDelayMs(1, backoff, undefined, () => 0)).toBe(0);
    expect(retryDelayMs(1, backoff, undefined, () => 1)).toBe(1_000);
    expect(retryDelayMs(3, backoff, undefined, () => 0.5)).toBe(2_000);
    expect(retryDelayMs(3, backoff, undefined, () => 1)).toBe(4_000);
  });

  it('is capped at the maximum', () => {
    expect(retryDelayMs(20, backoff, undefined, () => 1)).toBe(30_000);
  });

  it('is jittered', () => {
    const delays = new Set(Array.from({ length: 20 }, () => retryDelayMs(4, backoff)));
    expect(delays.size).toBeGreaterThan(1);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(8_000);
    }
  });

  it("waits at least the server's delay, even past the maximum", () => {
    expect(retryDelayMs(1, backoff, 45_000, () => 0)).toBe(45_000);
    expect(retryDelayMs(5, backoff, 100, () => 1)).toBe(16_000);
  });
});
