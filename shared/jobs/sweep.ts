import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, sqsClient } from '../aws.ts';
import { getConfig } from '../config.ts';
import { s3EventRecord } from '../events/s3-event.ts';
import { logger } from '../logger.ts';
import { findUpload } from '../storage/objects.ts';
import { uploadKey } from '../storage/keys.ts';
import { WEBHOOK_SHARD } from '../webhooks/events.ts';
import { type DeliveryRequest, requestDeliveries } from '../webhooks/queue.ts';
import { withoutKeys } from './items.ts';
import { DEADLINE_SHARD, postponeTimer, QUEUED_STALL_SECONDS, transition } from './lifecycle.ts';
import type { Job } from './model.ts';
import { TABLE_SCHEMA } from './table.ts';

/**
 * The scheduled sweep (every minute on AWS; a timer locally): what no request and no storage event
 * will do. It reads the two sparse indexes in due order:
 * - the lifecycle's timers: a job whose upload URL lapsed with nothing uploaded is expired; one
 *   whose upload is there but was never picked up, or that stayed queued, or whose worker's lease
 *   lapsed, has its upload notification sent again (the claim makes a duplicate harmless);
 * - the outbox: items with webhook events due are handed to the delivery queue.
 */

export interface SweepReport {
  expired: number;
  renotified: number;
  deliveriesRequested: number;
}

/** Items looked at per index per run; more wait for the next run. */
export const SWEEP_BATCH = 500;

async function* due<T>(index: { name: string; partitionKey: string; sortKey: string }, shard: string, now: number): AsyncGenerator<T> {
  let start: Record<string, unknown> | undefined;
  let seen = 0;
  do {
    const page = await documentClient().send(
      new QueryCommand({
        TableName: getConfig().TABLE_NAME,
        IndexName: index.name,
        KeyConditionExpression: '#shard = :shard AND #at <= :now',
        ExpressionAttributeNames: { '#shard': index.partitionKey, '#at': index.sortKey },
        ExpressionAttributeValues: { ':shard': shard, ':now': now },
        Limit: 100,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      if (seen++ >= SWEEP_BATCH) return;
      yield item as T;
    }
    start = page.LastEvaluatedKey;
  } while (start);
}

/** Send a job's upload notification again, in the shape S3 sends it. */
async function renotify(job: Job, size: number): Promise<void> {
  const config = getConfig();
  if (!config.JOBS_QUEUE_URL) return;
  const record = s3EventRecord({ bucket: config.BUCKET_NAME, key: uploadKey(job.jobId), size, eventName: 'ObjectCreated:Put' }, config.AWS_REGION, 'sweep');
  await sqsClient().send(new SendMessageCommand({ QueueUrl: config.JOBS_QUEUE_URL, MessageBody: JSON.stringify({ Records: [record] }) }));
}

async function sweepTimers(now: number, report: SweepReport): Promise<void> {
  for await (const item of due<Record<string, unknown>>(TABLE_SCHEMA.deadlineIndex, DEADLINE_SHARD, now)) {
    const job = withoutKeys<Job>(item);
    const upload = await findUpload(job.jobId);
    if (!upload) {
      if (job.status === 'awaiting_upload' && (await transition(job.jobId, { type: 'expire' }, now))) report.expired++;
      // A queued or running job without its upload cannot be retried: the worker fails it when its message comes.
      continue;
    }
    logger.warn('job overstayed its state; its upload notification is sent again', { jobId: job.jobId, status: job.status });
    await renotify(job, upload.size);
    await postponeTimer(job.jobId, job.status, now + QUEUED_STALL_SECONDS * 1000);
    report.renotified++;
  }
}

async function sweepOutbox(now: number, report: SweepReport): Promise<void> {
  const requests: DeliveryRequest[] = [];
  for await (const item of due<{ pk: string }>(TABLE_SCHEMA.webhookIndex, WEBHOOK_SHARD, now)) {
    const [kind, id] = item.pk.split('#') as ['job' | 'batch', string];
    requests.push({ kind, id });
  }
  await requestDeliveries(requests);
  report.deliveriesRequested = requests.length;
}

export async function sweep(now = Date.now()): Promise<SweepReport> {
  const report: SweepReport = { expired: 0, renotified: 0, deliveriesRequested: 0 };
  await sweepTimers(now, report);
  await sweepOutbox(now, report);
  if (report.expired || report.renotified || report.deliveriesRequested) logger.info('sweep', { ...report });
  return report;
}
