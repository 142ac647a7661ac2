/**
 * One error hierarchy. ApiError is what a request is refused with (mapped to the HTTP error shape
 * in one place, shared/api/http.ts); JobFailure is why a job failed, and whether retrying could help.
 */

/** Every code a refused request can carry, and the HTTP status it is answered with: the one map. */
export const API_ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unknown_model: 422,
  model_unavailable: 422,
  idempotency_mismatch: 422,
  /** Over the key's plan: its rate (Retry-After) or its daily/monthly quota (details.resetsAt). */
  rate_limited: 429,
  quota_exceeded: 429,
  internal: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = API_ERROR_STATUS[code];
  }
}

/** The codes a failed job carries (DESIGN.md). */
export const FAILURE_CODES = [
  'unsupported_media',
  'image_too_large',
  'corrupt_image',
  'upload_mismatch',
  'model_error',
  'provider_unavailable',
  'timeout',
  'internal',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/**
 * Why processing a job stopped. `permanent` failures end the job at once (retrying the same
 * bytes cannot help); transient ones go back to the queue until the final receive.
 */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static permanent(code: FailureCode, message: string, cause?: unknown): JobFailure {
    return new JobFailure(code, message, true, { cause });
  }

  static transient(code: FailureCode, message: string, cause?: unknown): JobFailure {
    return new JobFailure(code, message, false, { cause });
  }
}

/** Any error as a transient JobFailure, keeping a JobFailure as it is. */
export function toJobFailure(error: unknown): JobFailure {
  if (error instanceof JobFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  return JobFailure.transient('internal', message, error);
}
