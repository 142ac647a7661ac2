import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { ApiError } from '../errors.ts';
import type { UploadInstructions } from '../storage/presign.ts';
import { createBatch } from './batch-store.ts';
import { createJobWithUpload } from './create-job.ts';
import { idempotentBatchIds, requestHashOf } from './idempotency.ts';
import { retentionExpiry } from './items.ts';
import type { JobStatus } from './model.ts';
import type { ValidatedBatchRequest } from './requests.ts';
import { batchPath } from './views.ts';
import { IDLE_DELIVERY, WEBHOOK_SHARD } from '../webhooks/events.ts';
import { defaultWebhookOf } from '../webhooks/owners.ts';

/**
 * Creating a batch (POST /v1/batches): many jobs in one call, each created by the very code that
 * serves POST /v1/jobs.
 */

/** How often the sweep checks an open batch that wants batch.completed (its jobs' ends also nudge it). */
export const BATCH_CHECK_INTERVAL_MS = 5 * 60_000;

/** Jobs created at once per request. */
export const JOB_WRITE_CONCURRENCY = 16;

export interface CreatedBatchJob {
  jobId: string;
  status: JobStatus;
  /** Present while the job awaits its upload (always, for a new batch). */
  upload?: UploadInstructions;
}

export interface CreatedBatch {
  batchId: string;
  model: string;
  total: number;
  jobs: CreatedBatchJob[];
  links: { self: string };
}

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
  const webhook = request.webhook ?? (await defaultWebhookOf(ownerId));
  const batchWebhook = webhook?.events.includes('batch.completed') ? webhook : undefined;
  const jobEvents = webhook?.events.filter((e) => e !== 'batch.completed') ?? [];
  const jobWebhook = webhook && jobEvents.length > 0 ? { url: webhook.url, events: jobEvents } : undefined;
  const stored = await createBatch({
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
  if (!stored.created && (stored.batch.ownerId !== ownerId || stored.batch.requestHash !== requestHash)) {
    throw new ApiError('idempotency_mismatch', 'this Idempotency-Key was used with a different request', { batchId });
  }
  const limit = pLimit(JOB_WRITE_CONCURRENCY);
  const jobs = await Promise.all(
    request.items.map((item, i) =>
      limit(async (): Promise<CreatedBatchJob> => {
        const { job } = await createJobWithUpload(ownerId, item, jobIds[i]!, {
          batchId,
          ...(jobWebhook ? { webhook: jobWebhook } : {}),
          ...(batchWebhook ? { notifyBatch: true } : {}),
        });
        return { jobId: job.jobId, status: job.status, ...(job.upload ? { upload: job.upload } : {}) };
      }),
    ),
  );
  return {
    created: stored.created,
    batch: { batchId, model: request.model, total: jobIds.length, jobs, links: { self: batchPath(batchId) } },
  };
}

