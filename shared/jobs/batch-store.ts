import { BatchGetCommand, DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { documentClient, putIfAbsent } from '../aws.ts';
import type { DeliveryState, LifecycleEvent, WebhookSubscription } from '../webhooks/events.ts';
import { batchKey, jobFromItem, jobKey, tableName, withoutKeys } from './items.ts';
import type { Job } from './model.ts';

/**
 * Batch persistence: one item per batch (`pk = batch#<batchId>`) holding its ordered job ids,
 * beside the jobs' own items (each carries `batchId`). The batch item is the membership list, read
 * consistently: no index to wait for, and item i of the request is job i of the list.
 *
 * No transactions (dynalite has none), so the jobs are written first and the batch item last: a
 * batch item exists only once all its jobs do, and a GET never shows a batch with jobs missing.
 * A create that dies half-way leaves jobs no client was told of (create-batch.ts deletes them, or
 * the retry with the same Idempotency-Key finds them and completes the batch).
 */

export interface Batch {
  batchId: string;
  ownerId: string;
  model: string;
  params?: Record<string, unknown>;
  createdAt: string;
  /** The batch's jobs, in the order of the request's items. */
  jobIds: string[];
  /** SHA-256 of the creating request, to tell a replay from a conflicting reuse of an Idempotency-Key. */
  requestHash: string;
  /** Subscribed to batch.completed: where to send it (and the delivery index fields, as on jobs). */
  webhook?: WebhookSubscription;
  events?: LifecycleEvent[];
  delivery?: DeliveryState;
  webhookShard?: string;
  webhookDueAt?: number;
  /** When every job had ended (set once, with the batch.completed event). */
  completedAt?: string;
  /** DynamoDB TTL, epoch seconds (as its jobs'). */
  expiresAt: number;
}

/** BatchGetItem reads at most this many keys per call. */
const BATCH_GET_MAX_KEYS = 100;
/** Unprocessed keys (throttling, the 16 MB response cap) are asked for again this many times. */
const BATCH_GET_MAX_ROUNDS = 8;

/** Store a new batch; an existing one (an Idempotency-Key replay) is returned with `created: false`. */
export async function createBatch(batch: Batch): Promise<{ created: boolean; batch: Batch }> {
  if (await putIfAbsent({ ...batchKey(batch.batchId), type: 'batch', ...batch })) return { created: true, batch };
  const existing = await getBatch(batch.batchId);
  if (!existing) throw new Error(`batch ${batch.batchId} exists but could not be read`);
  return { created: false, batch: existing };
}

export async function getBatch(batchId: string): Promise<Batch | undefined> {
  const { Item } = await documentClient().send(
    new GetCommand({ TableName: tableName(), Key: batchKey(batchId), ConsistentRead: true }),
  );
  return Item ? withoutKeys<Batch>(Item) : undefined;
}

/** The jobs with these ids that exist, by id (strongly consistent reads, 100 keys a call). */
export async function getJobs(jobIds: readonly string[]): Promise<Map<string, Job>> {
  const found = new Map<string, Job>();
  for (let start = 0; start < jobIds.length; start += BATCH_GET_MAX_KEYS) {
    let keys: Record<string, unknown>[] = jobIds.slice(start, start + BATCH_GET_MAX_KEYS).map(jobKey);
    for (let round = 0; keys.length > 0; round++) {
      if (round === BATCH_GET_MAX_ROUNDS) throw new Error(`could not read ${keys.length} jobs after ${round} rounds`);
      if (round > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** round));
      const { Responses, UnprocessedKeys } = await documentClient().send(
        new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of Responses?.[tableName()] ?? []) {
        const job = jobFromItem(item)!;
        found.set(job.jobId, job);
      }
      keys = (UnprocessedKeys?.[tableName()]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return found;
}

/** Deletes at once when a failed create is undone. */
const DELETE_CONCURRENCY = 16;

/**
 * Delete these jobs, each attempted once, whatever the others do; returns the ids that could not
 * be deleted. For a batch whose creation failed: its jobs were never shown to anyone.
 */
export async function deleteJobs(jobIds: readonly string[]): Promise<string[]> {
  const limit = pLimit(DELETE_CONCURRENCY);
  const outcomes = await Promise.allSettled(
    jobIds.map((jobId) => limit(() => documentClient().send(new DeleteCommand({ TableName: tableName(), Key: jobKey(jobId) })))),
  );
  return jobIds.filter((_, i) => outcomes[i]!.status === 'rejected');
}
