import { backoffDelay } from '../../retry.ts';

/**
 * When a failed Gemini call is worth repeating, and after how long: 429, 408 and 5xx (and network
 * failures and per-call timeouts) are; other 4xx are not. A delay the server sends (RetryInfo in
 * the error details, or Retry-After) is honoured; otherwise the project's backoff. Pure: the SDK's
 * ApiError is recognised by shape (`status`, a JSON `message`).
 */

export interface CallFailure {
  retryable: boolean;
  /** HTTP status, when the server answered. */
  status?: number;
  /** The per-call timeout fired. */
  timedOut: boolean;
  /** How long the server asked us to wait, ms. */
  serverDelayMs?: number;
  /** The server's status word (RESOURCE_EXHAUSTED, UNAVAILABLE…) and message, or the local error. */
  message: string;
  /** The API key was refused (401, 403, or ErrorInfo reason API_KEY_INVALID): read it again before the next job. */
  keyRejected: boolean;
}

const RETRYABLE_STATUS = (status: number) => status === 408 || status === 429 || status >= 500;

/** Reads a failed call's error; `retryAfter` is the response's Retry-After header, if any. */
export function describeCallFailure(error: unknown, retryAfter?: string | null): CallFailure {
  const err = error as { name?: string; status?: unknown; message?: string; cause?: { code?: string } };
  if (typeof err?.status === 'number' && err.name === 'ApiError') {
    const body = parseErrorBody(err.message ?? '');
    const serverDelayMs = retryInfoDelayMs(body?.details) ?? retryAfterMs(retryAfter);
    const words = body ? [body.status, body.message].filter(Boolean).join(': ') : (err.message ?? '');
    const keyRejected = err.status === 401 || err.status === 403 || errorInfoReason(body?.details) === 'API_KEY_INVALID';
    return {
      retryable: RETRYABLE_STATUS(err.status),
      status: err.status,
      timedOut: false,
      ...(serverDelayMs === undefined ? {} : { serverDelayMs }),
      message: `${err.status} ${truncate(words, 500)}`,
      keyRejected,
    };
  }
  const timedOut = err?.name === 'AbortError' || err?.name === 'TimeoutError';
  const detail = err?.cause?.code ? `${err.message} (${err.cause.code})` : String(err?.message ?? error);
  return { retryable: true, timedOut, message: timedOut ? 'the call timed out' : truncate(detail, 500), keyRejected: false };
}

interface GoogleErrorBody {
  code?: number;
  status?: string;
  message?: string;
  details?: unknown;
}

/** The SDK puts the response body, as JSON text, in ApiError.message: `{"error":{code,message,status,details}}`. */
export function parseErrorBody(message: string): GoogleErrorBody | undefined {
  try {
    const parsed = JSON.parse(message) as { error?: GoogleErrorBody };
    return parsed && typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

/** google.rpc.ErrorInfo's reason (API_KEY_INVALID, RATE_LIMIT_EXCEEDED…). */
export function errorInfoReason(details: unknown): string | undefined {
  if (!Array.isArray(details)) return undefined;
  const info = details.find((d) => typeof d?.['@type'] === 'string' && d['@type'].endsWith('google.rpc.ErrorInfo'));
  return typeof info?.reason === 'string' ? info.reason : undefined;
}

/** google.rpc.RetryInfo's retryDelay (a protobuf Duration: "37s", "0.250s", or {seconds, nanos}), ms. */
export function retryInfoDelayMs(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  const info = details.find((d) => typeof d?.['@type'] === 'string' && d['@type'].endsWith('google.rpc.RetryInfo'));
  const delay: unknown = info?.retryDelay;
  if (typeof delay === 'string') {
    const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
    return match ? Math.round(Number(match[1]) * 1000) : undefined;
  }
  if (delay && typeof delay === 'object') {
    const { seconds = 0, nanos = 0 } = delay as { seconds?: number | string; nanos?: number };
    const ms = Number(seconds) * 1000 + Number(nanos) / 1e6;
    return Number.isFinite(ms) ? Math.round(ms) : undefined;
  }
  return undefined;
}

/** Retry-After: delta-seconds or an HTTP date, ms from `now`. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/**
 * How long to wait after failed attempt `attempt` (1-based): the project's backoff (shared/retry.ts,
 * full jitter up to base·2^(attempt−1), capped), but never less than what the server asked for.
 */
export function retryDelayMs(attempt: number, backoff: BackoffSettings, serverDelayMs?: number, random = Math.random): number {
  return Math.max(backoffDelay(attempt, { baseDelayMs: backoff.baseMs, maxDelayMs: backoff.maxMs, random }), serverDelayMs ?? 0);
}

const truncate = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);
