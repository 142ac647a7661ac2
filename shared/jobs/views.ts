import { createResultObjectUrl, createResultUrl, type UploadInstructions } from '../storage/presign.ts';
import type { Job } from './model.ts';

/** How a job is shown to its owner: the one view the job routes and the batch routes share. */

export interface JobView {
  jobId: string;
  status: Job['status'];
  model: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  completedAt?: string;
  attempts: number;
  params?: Record<string, unknown>;
  metadata?: Record<string, string>;
  result?: unknown;
  resultUrl?: string;
  error?: Job['error'];
  batchId?: string;
  upload?: UploadInstructions;
  links: { self: string };
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
    ...(job.result !== undefined ? { result: await resultView(job.result) } : {}),
    ...(job.resultKey ? { resultUrl: await createResultUrl(job.jobId) } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.batchId ? { batchId: job.batchId } : {}),
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
