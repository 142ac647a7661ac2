import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { ApiError } from '../errors.ts';
import { logger } from '../logger.ts';
import { type Batch, createBatch, deleteJobs, getBatch } from './batch-store.ts';
import { createJobWithUpload } from './create-job.ts';
import { idempotentBatchIds, requestHashOf } from './idempotency.ts';
import { retentionExpiry } from './items.ts';
import type { ValidatedBatchRequest } from './requests.ts';
import type { CreatedBatch, CreatedBatchJob } from './responses.ts';
import { batchPath } from './views.ts';
import { IDLE_DELIVERY, WEBHOOK_SHARD, type WebhookSubscription } from '../webhooks/events.ts';
import { defaultWebhookOf } from '../webhooks/owners.ts';

/**
 * Creating a batch (POST /v1/batches): many jobs in one call, each created by the very code that
 * serves POST /v1/jobs.
 */

/** How often the sweep checks an open batch that wants batch.completed (its jobs' ends also nudge it). */
export const BATCH_CHECK_INTERVAL_MS = 5 * 60_000;

/** Jobs created at once per request. */
export const JOB_WRITE_CONCURRENCY = 16;

export type { CreatedBatch, CreatedBatchJob } from './responses.ts';

/**
 * Create the batch and its jobs, or with an Idempotency-Key replay it: the same key derives the
 * same batch id and job ids, so a retry after a failure half-way creates the missing jobs and
 * returns the others (fresh upload URLs for those still awaiting an upload), duplicating nothing.
 *
 * All or nothing, as the client sees it: the batch item is written only after every job (see
 * batch-store.ts), so a failed create leaves no batch to GET. Its jobs written so far are kept when
 * there is a key (the retry completes the batch with them; deleting them could race a concurrent
 * retry of the same key) and deleted when there is none (their ids were random and never told).
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
  // A conflicting reuse of the key is refused before anything is written.
  const existing = idempotencyKey ? await getBatch(batchId) : undefined;
  if (existing) assertSameRequest(existing, ownerId, requestHash);

  const webhook = request.webhook ?? (await defaultWebhookOf(ownerId));
  const batchWebhook = webhook?.events.includes('batch.completed') ? webhook : undefined;
  const jobEvents = webhook?.events.filter((e) => e !== 'batch.completed') ?? [];
  const jobOptions = {
    batchId,
    ...(webhook && jobEvents.length > 0 ? { webhook: { url: webhook.url, events: jobEvents } } : {}),
    ...(batchWebhook ? { notifyBatch: true } : {}),
  };
  const jobs = await createJobs(ownerId, request, jobIds, jobOptions, !idempotencyKey);
  const stored = existing
    ? { created: false, batch: existing }
    : await createBatch({
        batchId,
        ownerId,
        model: request.model,
        ...(request.params ? { params: request.params } : {}),
        createdAt: new Date(now).toISOString(),
        jobIds,
        requestHash,
        // The sweep looks at an open batch with a batch.completed subscription now and then, in case a job's nudge was lost.
        ...(batchWebhook
          ? { webhook: batchWebhook, webhookShard: WEBHOOK_SHARD, webhookDueAt: now + BATCH_CHECK_INTERVAL_MS, delivery: IDLE_DELIVERY }
          : {}),
        expiresAt: retentionExpiry(now),
      });
  if (!stored.created) assertSameRequest(stored.batch, ownerId, requestHash);
  return {
    created: stored.created,
    batch: { batchId, model: request.model, total: jobIds.length, jobs, links: { self: batchPath(batchId) } },
  };
}

function assertSameRequest(batch: Batch, ownerId: string, requestHash: string): void {
  if (batch.ownerId !== ownerId || batch.requestHash !== requestHash) {
    throw new ApiError('idempotency_mismatch', 'this Idempotency-Key was used with a different request', { batchId: batch.batchId });
  }
}

/**
 * Create (or replay) the batch's jobs. When one fails the rest are not started, the error of the
 * first failed item is thrown once every started write has settled, and with `discardOnFailure`
 * the jobs are deleted first (best effort: one left behind is invisible and expires with its TTL).
 */
async function createJobs(
  ownerId: string,
  request: ValidatedBatchRequest,
  jobIds: string[],
  options: { batchId: string; webhook?: WebhookSubscription; notifyBatch?: boolean },
  discardOnFailure: boolean,
): Promise<CreatedBatchJob[]> {
  const limit = pLimit(JOB_WRITE_CONCURRENCY);
  let failed = false;
  const outcomes = await Promise.allSettled(
    request.items.map((item, i) =>
      limit(async (): Promise<CreatedBatchJob | undefined> => {
        if (failed) return undefined;
        try {
          const { job } = await createJobWithUpload(ownerId, item, jobIds[i]!, options);
          return { jobId: job.jobId, status: job.status, ...(job.upload ? { upload: job.upload } : {}) };
        } catch (error) {
          failed = true;
          throw error;
        }
      }),
    ),
  );
  const firstFailure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (!firstFailure) return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<CreatedBatchJob>).value);
  if (discardOnFailure) {
    const left = await deleteJobs(jobIds);
    logger.warn('batch not created: its jobs were deleted', { batchId: options.batchId, jobs: jobIds.length, notDeleted: left });
  }
  throw firstFailure.reason;
}
