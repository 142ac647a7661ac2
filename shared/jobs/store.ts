import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, putIfAbsent } from '../aws.ts';
import { jobFromItem, jobKey, jobToItem, tableName } from './items.ts';
import type { Job, JobStatus } from './model.ts';

/**
 * Job persistence: one DynamoDB item per job (`pk = job#<jobId>`). Reads and the first write are
 * here; every later change of a job is a lifecycle event (lifecycle.ts). No transactions, so this
 * runs on DynamoDB and on dynalite alike.
 */

export async function getJob(jobId: string): Promise<Job | undefined> {
  const { Item } = await documentClient().send(new GetCommand({ TableName: tableName(), Key: jobKey(jobId), ConsistentRead: true }));
  return jobFromItem(Item);
}

/**
 * Store a new job. If a job with this id already exists (an Idempotency-Key replay derives the
 * same id) nothing is written and the existing job is returned with `created: false`.
 */
export async function createJob(job: Job): Promise<{ created: boolean; job: Job }> {
  if (await putIfAbsent(jobToItem(job))) return { created: true, job };
  const existing = await getJob(job.jobId);
  if (!existing) throw new Error(`job ${job.jobId} exists but could not be read`);
  return { created: false, job: existing };
}

/** Every job in one of these statuses, page by page (a full scan: housekeeping, not a request path). */
export async function* scanJobsByStatus(statuses: readonly JobStatus[]): AsyncGenerator<Job> {
  const values = Object.fromEntries(statuses.map((status, i) => [`:s${i}`, status]));
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new ScanCommand({
        TableName: tableName(),
        FilterExpression: `begins_with(pk, :job) AND #status IN (${Object.keys(values).join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':job': 'job#', ...values },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) yield jobFromItem(item)!;
    start = page.LastEvaluatedKey;
  } while (start);
}
