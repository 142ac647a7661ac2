/**
 * One error hierarchy. ApiError is what a request is refused with (mapped to the HTTP error shape
 * in one place, shared/api/http.ts); JobFailure is why a job failed, and whether retrying could help.
 */

export type ApiErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unknown_model'
  | 'model_unavailable'
  | 'idempotency_mismatch'
  | 'method_not_allowed'
  | 'internal';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
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
