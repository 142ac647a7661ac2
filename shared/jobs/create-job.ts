import { randomUUID } from 'node:crypto';
import { ApiError } from '../errors.ts';
import { createUploadUrl } from '../storage/presign.ts';
import { idempotentJobId, requestHashOf } from './idempotency.ts';
import { retentionExpiry } from './items.ts';
import { DEADLINE_SHARD, transition, uploadDeadline } from './lifecycle.ts';
import type { Job } from './model.ts';
import type { ValidatedJobRequest } from './requests.ts';
import { IDLE_DELIVERY, WEBHOOK_SHARD, type WebhookSubscription } from '../webhooks/events.ts';
import { defaultWebhookOf } from '../webhooks/owners.ts';
import { createJob } from './store.ts';
import { type JobView, viewOf } from './views.ts';

/** Creating a job (POST /v1/jobs, and each item of POST /v1/batches): presign its upload and store it. */

export interface Created {
  job: JobView;
  /** False when an Idempotency-Key replay returned an existing job. */
  created: boolean;
}

export async function submitJob(ownerId: string, request: ValidatedJobRequest, idempotencyKey?: string): Promise<Created> {
  const webhook = request.webhook ?? (await defaultWebhookOf(ownerId));
  const jobId = idempotencyKey ? idempotentJobId(ownerId, idempotencyKey) : randomUUID();
  return createJobWithUpload(ownerId, request, jobId, { ...(webhook ? { webhook } : {}) });
}

/**
 * The one way a job is created: presign its upload and store it, unless a job with this id
 * exists. An existing job with the same owner, request and batch is a replay (a fresh upload URL
 * while the upload is awaited); anything else is a conflicting reuse of the Idempotency-Key (422).
 */
export async function createJobWithUpload(
  ownerId: string,
  request: ValidatedJobRequest,
  jobId: string,
  options: { batchId?: string; webhook?: WebhookSubscription; notifyBatch?: boolean } = {},
): Promise<Created> {
  const now = Date.now();
  const requestHash = requestHashOf(request);
  const upload = await createUploadUrl(jobId, request.contentType, request.contentLength, now);
  const stamp = new Date(now).toISOString();
  const job: Job = {
    jobId,
    ownerId,
    status: 'awaiting_upload',
    ...request,
    createdAt: stamp,
    updatedAt: stamp,
    uploadExpiresAt: upload.expiresAt,
    attempts: 0,
    requestHash,
    ...(options.batchId ? { batchId: options.batchId } : {}),
    ...(options.webhook ? { webhook: options.webhook, webhookShard: WEBHOOK_SHARD, delivery: IDLE_DELIVERY } : {}),
    ...(options.notifyBatch ? { notifyBatch: true } : {}),
    deadlineShard: DEADLINE_SHARD,
    deadlineAt: uploadDeadline(upload.expiresAt),
    expiresAt: retentionExpiry(now),
  };
  const stored = await createJob(job);
  if (stored.created) return { created: true, job: { ...(await viewOf(job)), upload } };

  const existing = stored.job;
  if (existing.ownerId !== ownerId || existing.requestHash !== requestHash || existing.batchId !== options.batchId) {
    throw new ApiError('idempotency_mismatch', 'this Idempotency-Key was used with a different request', { jobId: existing.jobId });
  }
  // A replay: the same job; a fresh upload URL while the upload is still awaited.
  if (existing.status === 'awaiting_upload') {
    const renewed = (await transition(existing.jobId, { type: 'renewUpload', uploadExpiresAt: upload.expiresAt })) ?? existing;
    return { created: false, job: { ...(await viewOf(renewed)), upload } };
  }
  return { created: false, job: await viewOf(existing) };
}
