import { ApiError } from '../errors.ts';
import { JOB_ID_PATTERN } from '../storage/keys.ts';
import type { Batch } from './batch-store.ts';
import { getBatch } from './batch-store.ts';
import type { Job } from './model.ts';
import { getJob } from './store.ts';

/**
 * The one "owned by" rule: an id that is malformed, unknown, or another owner's is answered 404
 * alike, so ids cannot be probed across owners.
 */
async function owned<T extends { ownerId: string }>(what: string, id: string, ownerId: string, read: (id: string) => Promise<T | undefined>): Promise<T> {
  const item = JOB_ID_PATTERN.test(id) ? await read(id) : undefined;
  if (!item || item.ownerId !== ownerId) throw new ApiError('not_found', `no ${what} ${id}`);
  return item;
}

export const ownedJob = (ownerId: string, jobId: string): Promise<Job> => owned('job', jobId, ownerId, getJob);
export const ownedBatch = (ownerId: string, batchId: string): Promise<Batch> => owned('batch', batchId, ownerId, getBatch);
