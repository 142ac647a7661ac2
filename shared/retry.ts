/**
 * The one retry helper: exponential backoff with full jitter, for calls that may fail for a
 * moment (HTTP 429 and 5xx, dropped connections). Callers say what is worth retrying; by default
 * that is isTransientError.
 */

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** The first backoff's ceiling; each further one doubles it. */
  baseDelayMs?: number;
  /** No backoff is longer than this. */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt (default isTransientError). */
  retryable?: (error: unknown) => boolean;
  /** Called before each wait, e.g. to log or count retries. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Stops waiting and retrying: the abort reason is thrown. */
  signal?: AbortSignal;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

export const RETRY_DEFAULTS = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 } as const;

/** Socket and DNS failures worth another attempt (Node's and undici's codes). */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/**
 * An HTTP refusal that may pass if repeated (a `status` of 429 or 5xx, as ApiRequestError and
 * UploadError carry), or a network failure (its code, or its cause's, as fetch wraps them).
 */
export function isTransientError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as Error).name === 'AbortError') return false;
    const status = (e as { status?: unknown }).status;
    if (typeof status === 'number' && status > 0) return status === 429 || status >= 500;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return true;
  }
  return false;
}

/** The backoff before attempt `attempt + 1` (attempt counts from 1): uniform in [0, min(max, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'> = {}): number {
  const base = options.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs;
  const max = options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs;
  const ceiling = Math.min(max, base * 2 ** (attempt - 1));
  return Math.round((options.random ?? Math.random)() * ceiling);
}

/** Resolves after ms, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Run `work`, retrying what `retryable` allows until it succeeds or the attempts are spent (the last error is thrown). */
export async function withRetry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? RETRY_DEFAULTS.attempts;
  const retryable = options.retryable ?? isTransientError;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= attempts || options.signal?.aborted || !retryable(error)) throw error;
      const delay = backoffDelay(attempt, options);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
