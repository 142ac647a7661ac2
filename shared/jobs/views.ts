import { createResultObjectUrl, createResultUrl } from '../storage/presign.ts';
import { IDLE_DELIVERY } from '../webhooks/events.ts';
import type { Job } from './model.ts';
import type { JobResult, JobView } from './responses.ts';

export type { JobView } from './responses.ts';

/** How a job is shown to its owner: the one view the job routes and the batch routes share (its schema: responses.ts). */

/** Where a job's webhook stands: its subscription and how delivery of its events is going. */
type WebhookView = NonNullable<JobView['webhook']>;

function webhookView(job: Job): WebhookView | undefined {
  if (!job.webhook) return undefined;
  const delivery = job.delivery ?? IDLE_DELIVERY;
  const pending = (job.events?.length ?? 0) > delivery.done;
  return {
    url: job.webhook.url,
    events: job.webhook.events,
    // An event recorded but not yet taken up by the deliverer shows as pending.
    status: pending && (delivery.status === 'idle' || delivery.status === 'delivered') ? 'pending' : delivery.status,
    attempts: delivery.attempts,
    ...(delivery.lastStatus !== undefined ? { lastStatus: delivery.lastStatus } : {}),
    ...(delivery.lastError ? { lastError: delivery.lastError } : {}),
    ...(delivery.nextAttemptAt && delivery.status === 'failing' ? { nextAttemptAt: delivery.nextAttemptAt } : {}),
  };
}

export const jobPath = (jobId: string) => `/v1/jobs/${jobId}`;
export const batchPath = (batchId: string) => `/v1/batches/${batchId}`;

export async function viewOf(job: Job): Promise<JobView> {
  return {
    jobId: job.jobId,
    status: job.status,
    model: job.model,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.completedAt ? { completedAt: job.completedAt } : {}),
    attempts: job.attempts,
    ...(job.params ? { params: job.params } : {}),
    ...(job.metadata ? { metadata: job.metadata } : {}),
    // Stored by the worker from an InferenceResult, which responses.ts checks JobResult describes.
    ...(job.result !== undefined ? { result: (await resultView(job.result)) as JobResult } : {}),
    ...(job.resultKey ? { resultUrl: await createResultUrl(job.jobId) } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.batchId ? { batchId: job.batchId } : {}),
    ...(job.webhook ? { webhook: webhookView(job) } : {}),
    links: { self: jobPath(job.jobId) },
  };
}

/**
 * A recorded result as its owner sees it: an object stored beside it (a large embedding's
 * `vectorKey`) becomes a presigned `vectorUrl`, as a stored result becomes `resultUrl`.
 */
async function resultView(result: unknown): Promise<unknown> {
  if (typeof result !== 'object' || result === null || !('vectorKey' in result) || typeof result.vectorKey !== 'string') return result;
  const { vectorKey, ...rest } = result;
  return { ...rest, vectorUrl: await createResultObjectUrl(vectorKey) };
}
