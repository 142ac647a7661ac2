import { ApiError } from '../errors.ts';
import { ownedJob } from '../jobs/ownership.ts';
import { type JobView, viewOf } from '../jobs/views.ts';
import { reopenLastEvent } from './delivery-store.ts';
import { setUrlDisabled } from './owners.ts';
import { requestDelivery } from './queue.ts';

/**
 * POST /v1/jobs/{jobId}/webhook/redeliver: send the job's latest event again (with its original
 * webhook-id), re-enabling its URL if a 410 had disabled it.
 */
export async function redeliver(ownerId: string, jobId: string, now = Date.now()): Promise<JobView> {
  const job = await ownedJob(ownerId, jobId);
  if (!job.webhook) throw new ApiError('conflict', `job ${jobId} has no webhook`);
  const count = job.events?.length ?? 0;
  if (count === 0) throw new ApiError('conflict', `job ${jobId} has no event to deliver yet`);
  await setUrlDisabled(ownerId, job.webhook.url, false);
  await reopenLastEvent({ kind: 'job', id: jobId }, count, now);
  await requestDelivery({ kind: 'job', id: jobId });
  return viewOf((await ownedJob(ownerId, jobId)));
}
