import { ApiError } from '../errors.ts';
import { transition } from './lifecycle.ts';
import { isTerminal } from './model.ts';
import { ownedJob } from './ownership.ts';
import { type JobView, viewOf } from './views.ts';
import { waitUntil } from './waiting.ts';

/** The job routes' reads and cancel: what GET and DELETE /v1/jobs/{id} do. */

/**
 * The job as it stands: its state is moved by events (the upload landing, the worker, the sweep),
 * never by this read. With `waitSeconds`, the answer is held until the job has ended or the time
 * is up (`Prefer: wait=N`).
 */
export async function jobStatus(ownerId: string, jobId: string, waitSeconds = 0): Promise<JobView> {
  const job = await waitUntil(() => ownedJob(ownerId, jobId), (j) => isTerminal(j.status), waitSeconds);
  return viewOf(job);
}

export async function cancel(ownerId: string, jobId: string): Promise<JobView> {
  const job = await ownedJob(ownerId, jobId);
  if (isTerminal(job.status)) throw new ApiError('conflict', `job ${jobId} is already ${job.status}`);
  const canceled = await transition(jobId, { type: 'cancel' });
  if (!canceled) {
    const latest = await ownedJob(ownerId, jobId);
    throw new ApiError('conflict', `job ${jobId} is already ${latest.status}`);
  }
  return viewOf(canceled);
}
