/**
 * Object keys, in one place: uploads/<jobId> (written by clients), results/<jobId>.json (large
 * results), results/<jobId>.vector.json (embeddings too large to keep in the result).
 */

export const UPLOAD_PREFIX = 'uploads/';
export const RESULT_PREFIX = 'results/';

/** Job ids are UUIDs (random, or derived from an Idempotency-Key). */
export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uploadKey(jobId: string): string {
  return `${UPLOAD_PREFIX}${jobId}`;
}

export function resultKey(jobId: string): string {
  return `${RESULT_PREFIX}${jobId}.json`;
}

export function vectorKey(jobId: string): string {
  return `${RESULT_PREFIX}${jobId}.vector.json`;
}

/** The job an uploaded object belongs to, or undefined for a key this service did not hand out. */
export function jobIdFromUploadKey(key: string): string | undefined {
  if (!key.startsWith(UPLOAD_PREFIX)) return undefined;
  const jobId = key.slice(UPLOAD_PREFIX.length);
  return JOB_ID_PATTERN.test(jobId) ? jobId : undefined;
}
