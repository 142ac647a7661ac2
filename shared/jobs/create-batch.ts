import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { ApiError } from '../errors.ts';
import { createBatch } from './batch-store.ts';
import { createJobWithUpload } from './create-job.ts';
import { idempotentBatchIds, requestHashOf } from './idempotency.ts';
import { retentionExpiry } from './items.ts';
import type { ValidatedBatchRequest } from './requests.ts';
import type { CreatedBatch, CreatedBatchJob } from './responses.ts';
import { batchPath } from './views.ts';

/**
 * Creating a batch (POST /v1/batches): many jobs in one call, each created by the very code that
 * serves POST /v1/jobs.
 */

/** Jobs created at once per request. */
export const JOB_WRITE_CONCURRENCY = 16;

export type { CreatedBatch, CreatedBatchJob } from './responses.ts';

/**
 * Create the batch and its jobs, or with an Idempotency-Key replay it: the same key derives the
 * same batch id and job ids, so a retry after a failure half-way creates the missing jobs and
 * returns the others (fresh upload URLs for those still awaiting an upload), duplicating nothing.
 */
export async function submitBatch(
  ownerId: string,
  request: ValidatedBatchRequest,
  idempotencyKey?: string,
): Promise<{ batch: CreatedBatch; created: boolean }> {
  const now = Date.now();
  const { batchId, jobIds } = idempotencyKey
    ? idempotentBatchIds(ownerId, idempotencyKey, request.items.length)
    : { batchId: randomUUID(), jobIds: request.items.map(() => randomUUID()) };
  const requestHash = requestHashOf(request);
  const stored = await createBatch({
    batchId,
    ownerId,
    model: request.model,
    ...(request.params ? { params: request.params } : {}),
    createdAt: new Date(now).toISOString(),
    jobIds,
    requestHash,
    expiresAt: retentionExpiry(now),
  });
  if (!stored.created && (stored.batch.ownerId !== ownerId || stored.batch.requestHash !== requestHash)) {
    throw new ApiError('idempotency_mismatch', 'this Idempotency-Key was used with a different request', { batchId });
  }
  const limit = pLimit(JOB_WRITE_CONCURRENCY);
  const jobs = await Promise.all(
    request.items.map((item, i) =>
      limit(async (): Promise<CreatedBatchJob> => {
        const { job } = await createJobWithUpload(ownerId, item, jobIds[i]!, { batchId });
        return { jobId: job.jobId, status: job.status, ...(job.upload ? { upload: job.upload } : {}) };
      }),
    ),
  );
  return {
    created: stored.created,
    batch: { batchId, model: request.model, total: jobIds.length, jobs, links: { self: batchPath(batchId) } },
  };
}

