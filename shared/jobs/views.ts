import { createResultUrl } from '../storage/presign.ts';
import type { Job } from './model.ts';
import type { JobResult, JobView } from './responses.ts';

export type { JobView } from './responses.ts';

/** How a job is shown to its owner: the one view the job routes and the batch routes share (its schema: responses.ts). */

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
    ...(job.result !== undefined ? { result: job.result as JobResult } : {}),
    ...(job.resultKey ? { resultUrl: await createResultUrl(job.jobId) } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.batchId ? { batchId: job.batchId } : {}),
    links: { self: jobPath(job.jobId) },
  };
}
