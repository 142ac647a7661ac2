import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { documentClient } from '../aws.ts';
import { getConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import { issueDetails } from '../validation.ts';
import { withoutKeys } from './items.ts';
import { JOB_STATUSES, type Job } from './model.ts';
import { TABLE_SCHEMA } from './table.ts';
import { type JobView, viewOf } from './views.ts';

/** GET /v1/jobs: the owner's jobs, newest first, filtered and paged (the byOwner index). */

export const LIST_DEFAULT_LIMIT = 20;
export const LIST_MAX_LIMIT = 100;

export const ListJobsQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    model: z.string().min(1).max(200).optional(),
    /** ISO 8601: only jobs created after this instant. */
    createdAfter: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(LIST_MAX_LIMIT).default(LIST_DEFAULT_LIMIT),
    cursor: z.string().max(2048).optional(),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

export interface JobList {
  jobs: JobView[];
  nextCursor?: string;
}

function decodeCursor(cursor: string, ownerId: string): Record<string, unknown> {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    // A cursor is a position in this owner's listing only.
    if (key.ownerId !== ownerId || typeof key.pk !== 'string' || typeof key.createdAt !== 'string') throw new Error('foreign cursor');
    return key;
  } catch {
    throw new ApiError('bad_request', 'cursor is not valid', [{ path: 'cursor', message: 'not a cursor this listing returned' }]);
  }
}

export function parseListQuery(query: Record<string, string | undefined>): ListJobsQuery {
  const parsed = ListJobsQuery.safeParse(query);
  if (!parsed.success) throw new ApiError('bad_request', 'query parameters are invalid', issueDetails(parsed.error));
  return parsed.data;
}

export async function listJobs(ownerId: string, query: ListJobsQuery): Promise<JobList> {
  const index = TABLE_SCHEMA.ownerIndex;
  const names: Record<string, string> = { '#owner': index.partitionKey };
  const values: Record<string, unknown> = { ':owner': ownerId };
  let keyCondition = '#owner = :owner';
  if (query.createdAfter) {
    names['#created'] = index.sortKey;
    keyCondition += ' AND #created > :after';
    values[':after'] = new Date(query.createdAfter).toISOString();
  }
  // Batches and API keys share the index (they carry ownerId and createdAt too): jobs only.
  const filters: string[] = ['begins_with(pk, :jobs)'];
  values[':jobs'] = 'job#';
  if (query.status) {
    names['#status'] = 'status';
    values[':status'] = query.status;
    filters.push('#status = :status');
  }
  if (query.model) {
    names['#model'] = 'model';
    values[':model'] = query.model;
    filters.push('#model = :model');
  }
  const jobs: Job[] = [];
  let start = query.cursor ? decodeCursor(query.cursor, ownerId) : undefined;
  // A filter applies after the read: keep reading pages until the page is full or the index ends.
  do {
    const page = await documentClient().send(
      new QueryCommand({
        TableName: getConfig().TABLE_NAME,
        IndexName: index.name,
        KeyConditionExpression: keyCondition,
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: query.limit - jobs.length,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) jobs.push(withoutKeys<Job>(item));
    start = page.LastEvaluatedKey;
  } while (start && jobs.length < query.limit);
  const views = await Promise.all(jobs.map(async (job) => {
    const { upload: _upload, ...view } = await viewOf(job);
    return view;
  }));
  return { jobs: views, ...(start ? { nextCursor: Buffer.from(JSON.stringify(start)).toString('base64url') } : {}) };
}
