import { getConfig } from '../config.ts';
import type { Job } from './model.ts';

/**
 * How jobs and batches are keyed and read back in the one table (shared/jobs/table.ts): the item
 * mapping the job store, the batch store and the lifecycle share.
 */

export const jobKey = (jobId: string) => ({ pk: `job#${jobId}` });
export const batchKey = (batchId: string) => ({ pk: `batch#${batchId}` });

export function tableName(): string {
  return getConfig().TABLE_NAME;
}

/** An item without its table bookkeeping (key, item type). */
export function withoutKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, type: _type, ...rest } = item;
  return rest as T;
}

/**
 * A job as its table item. Metadata keys are the client's, and the DynamoDB marshaller treats
 * some specially (`constructor` breaks it, `__proto__` is lost when read back), so metadata is
 * stored as one JSON string attribute, which any key survives.
 */
export function jobToItem(job: Job): Record<string, unknown> & { pk: string } {
  return { ...jobKey(job.jobId), ...job, ...(job.metadata ? { metadata: JSON.stringify(job.metadata) } : {}) };
}

export function jobFromItem(item: Record<string, unknown> | undefined): Job | undefined {
  if (!item) return undefined;
  const job = withoutKeys<Job>(item);
  // JSON.parse keeps every key as an own property; a map (items written before) is read as it is.
  const metadata: unknown = job.metadata;
  return typeof metadata === 'string' ? { ...job, metadata: JSON.parse(metadata) as Record<string, string> } : job;
}

/** When an item created now is deleted by DynamoDB TTL (epoch seconds): jobs and batches alike. */
export function retentionExpiry(now: number): number {
  return Math.floor(now / 1000) + getConfig().JOB_RETENTION_DAYS * 86_400;
}
