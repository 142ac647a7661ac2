import { ApiError } from '../errors.ts';
import { uploadExists } from '../storage/objects.ts';
import { transition, UPLOAD_EXPIRY_GRACE_SECONDS } from './lifecycle.ts';
import { isTerminal, type Job } from './model.ts';
import { ownedJob } from './ownership.ts';
import { getJob } from './store.ts';
import { type JobView, viewOf } from './views.ts';

/** The job routes' reads and cancel: what GET and DELETE /v1/jobs/{id} do. */

/**
 * The job as a poller should see it. A job awaiting its upload is checked against the bucket:
 * the upload landed → queued; the URL expired with nothing uploaded → expired.
 */
export async function jobStatus(ownerId: string, jobId: string, now = Date.now()): Promise<JobView> {
  return viewOf(await settleUpload(await ownedJob(ownerId, jobId), now));
}

/**
 * A job awaiting its upload, checked against the bucket (the job route and the batch route alike):
 * the upload landed → queued; the URL expired with nothing uploaded → expired. Other jobs as they are.
 */
export async function settleUpload(job: Job, now = Date.now()): Promise<Job> {
  if (job.status !== 'awaiting_upload') return job;
  let settled: Job | undefined;
  if (await uploadExists(job.jobId)) settled = await transition(job.jobId, { type: 'uploadLanded' }, now);
  else if (now > Date.parse(job.uploadExpiresAt) + UPLOAD_EXPIRY_GRACE_SECONDS * 1000) settled = await transition(job.jobId, { type: 'expire' }, now);
  else return job;
  if (settled) return settled;
  // Nothing changed (not expired yet), or a worker claimed it (or it was canceled) meanwhile.
  return (await getJob(job.jobId)) ?? job;
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
