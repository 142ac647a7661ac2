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

export function jobFromItem(item: Record<string, unknown> | undefined): Job | undefined {
  return item ? withoutKeys<Job>(item) : undefined;
}

/** When an item created now is deleted by DynamoDB TTL (epoch seconds): jobs and batches alike. */
export function retentionExpiry(now: number): number {
  return Math.floor(now / 1000) + getConfig().JOB_RETENTION_DAYS * 86_400;
}
