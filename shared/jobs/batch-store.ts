import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, putIfAbsent } from '../aws.ts';
import { batchKey, jobKey, tableName, withoutKeys } from './items.ts';
import type { DeliveryState, LifecycleEvent, WebhookSubscription } from '../webhooks/events.ts';
import type { Job } from './model.ts';

/**
 * Batch persistence: one item per batch (`pk = batch#<batchId>`) holding its ordered job ids,
 * beside the jobs' own items (each carries `batchId`). The batch item is the membership list, read
 * consistently: no index to wait for, and item i of the request is job i of the list.
 *
 * No transactions (dynalite has none): the batch item is written first, then its jobs one
 * conditional put each. A create that dies half-way leaves a batch item whose jobs are partly
 * missing; repeating the request with the same Idempotency-Key derives the same ids and completes it.
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
        const job = withoutKeys<Job>(item);
        found.set(job.jobId, job);
      }
      keys = (UnprocessedKeys?.[tableName()]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return found;
}
