import { existsSync, readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { jobFromItem } from '#shared/jobs/items.ts';
import type { Job } from '#shared/jobs/model.ts';
import { UPLOAD_PREFIX } from '#shared/storage/keys.ts';
import type { ResultLine, StateRecord } from '../backfill/journal.ts';
import type { Endpoints } from '../local-cloud/cloud.ts';

/**
 * What the audit judges, read from outside as any user could: the results and state files the
 * backfill wrote, and the table and bucket through the edge port with the local credentials.
 */

export interface Evidence {
  results: ResultLine[];
  /** Lines of the results file that are not JSON (a crash may cut the last line; a finished run must not leave one). */
  brokenResultLines: number;
  /** Job id → the file the state file's batch lines sent it for. */
  pathOfJob: Map<string, string>;
  jobs: Job[];
  /** Job ids with an object under uploads/. */
  uploadedObjects: Set<string>;
}

/** How often the table is read while waiting for in-flight jobs to end. */
const SETTLE_POLL_MS = 500;

function parseLines<T>(path: string): { lines: T[]; broken: number } {
  const lines: T[] = [];
  let broken = 0;
  if (!existsSync(path)) return { lines, broken };
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (!text.trim()) continue;
    try {
      lines.push(JSON.parse(text) as T);
    } catch {
      broken++;
    }
  }
  return { lines, broken };
}

function clients(endpoints: Endpoints) {
  const config = { region: endpoints.region, credentials: endpoints.credentials, endpoint: endpoints.edge };
  return {
    table: DynamoDBDocumentClient.from(new DynamoDBClient(config)),
    bucket: new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
  };
}

async function scanJobs(table: DynamoDBDocumentClient, tableName: string): Promise<Job[]> {
  const jobs: Job[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: 'begins_with(pk, :job)',
        ExpressionAttributeValues: { ':job': 'job#' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) jobs.push(jobFromItem(item)!);
    start = page.LastEvaluatedKey;
  } while (start);
  return jobs;
}

async function listUploads(bucket: S3Client, bucketName: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let token: string | undefined;
  do {
    const page = await bucket.send(new ListObjectsV2Command({ Bucket: bucketName, Prefix: UPLOAD_PREFIX, ContinuationToken: token }));
    for (const object of page.Contents ?? []) ids.add(object.Key!.slice(UPLOAD_PREFIX.length));
    token = page.NextContinuationToken;
  } while (token);
  return ids;
}

/**
 * Reads everything, first waiting up to settleMs for jobs that are queued or running (uploaded
 * just before the CLI's last poll, or redriven by the last restart) to end.
 */
export async function gatherEvidence(options: { out: string; endpoints: Endpoints; settleMs: number }): Promise<Evidence> {
  const { table, bucket } = clients(options.endpoints);
  try {
    const deadline = Date.now() + options.settleMs;
    let jobs = await scanJobs(table, options.endpoints.table);
    while (jobs.some((j) => j.status === 'queued' || j.status === 'running') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      jobs = await scanJobs(table, options.endpoints.table);
    }
    const { lines: results, broken } = parseLines<ResultLine>(options.out);
    const pathOfJob = new Map<string, string>();
    for (const record of parseLines<StateRecord>(`${options.out}.state`).lines) {
      if (record.t === 'batch') for (const item of record.items) pathOfJob.set(item.jobId, item.path);
    }
    return { results, brokenResultLines: broken, pathOfJob, jobs, uploadedObjects: await listUploads(bucket, options.endpoints.bucket) };
  } finally {
    table.destroy();
    bucket.destroy();
  }
}
