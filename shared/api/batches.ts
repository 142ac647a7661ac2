import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { z } from 'zod';
import { getConfig, LIMITS } from '../config.ts';
import { ApiError } from '../errors.ts';
import { type Batch, createBatch, getBatch, getJobs } from '../jobs/batches.ts';
import { isTerminal, type Job, JOB_STATUSES, type JobStatus } from '../jobs/model.ts';
import { JOB_ID_PATTERN } from '../storage/keys.ts';
import { createResultUrl, type UploadInstructions } from '../storage/presign.ts';
import {
  CreateJobBody,
  createJobWithUpload,
  derivedId,
  jobPath,
  requestHashOf,
  settleUpload,
  type ValidatedJobRequest,
  validateModel,
  validateUpload,
} from './jobs.ts';

/**
 * The batch routes' logic: many jobs in one call (POST /v1/batches), and one route to poll them all
 * (GET /v1/batches/{batchId}). Each job is created by the very code that serves POST /v1/jobs.
 */

/** Jobs per page of GET /v1/batches/{id} when `limit` is not given: a whole batch. */
export const BATCH_PAGE_DEFAULT_LIMIT = LIMITS.BATCH_MAX_ITEMS;
/**
 * A page stops early once its jobs pass this many bytes of JSON, so a page of large inline
 * results stays under Lambda's 6 MB response limit (results themselves are at most ~300 KB).
 */
export const BATCH_PAGE_MAX_BYTES = 4 * 1024 * 1024;
/** Jobs created (and awaiting uploads checked) at once per request. */
const JOB_WRITE_CONCURRENCY = 16;

const BatchItem = CreateJobBody.pick({ contentType: true, contentLength: true, metadata: true }).strict();

export const CreateBatchBody = z
  .object({
    model: CreateJobBody.shape.model,
    params: CreateJobBody.shape.params,
    // The cap is checked after parsing, to answer 413 with the limit rather than a schema issue.
    items: z.array(BatchItem).min(1, 'a batch needs at least one item'),
  })
  .strict();
export type CreateBatchRequest = z.infer<typeof CreateBatchBody>;

export interface ValidatedBatchRequest {
  model: string;
  params?: Record<string, unknown>;
  items: ValidatedJobRequest[];
}

/**
 * A batch request checked as its jobs would be one by one. Model and params are the batch's
 * (refused once, without an index); an item refused refuses the whole batch, with every refused
 * item's index in `details`, the status and code being the first one's (413, 415).
 */
export function validateBatchRequest(body: CreateBatchRequest): ValidatedBatchRequest {
  if (body.items.length > LIMITS.BATCH_MAX_ITEMS) {
    throw new ApiError(413, 'payload_too_large', `a batch holds at most ${LIMITS.BATCH_MAX_ITEMS} items; this one has ${body.items.length}: split it`, {
      maxItems: LIMITS.BATCH_MAX_ITEMS,
      items: body.items.length,
    });
  }
  const model = validateModel(body.model, body.params);
  const refused: { index: number; error: ApiError }[] = [];
  const items: ValidatedJobRequest[] = [];
  body.items.forEach((item, index) => {
    try {
      const contentType = validateUpload(item.contentType, item.contentLength);
      items.push({ model, contentType, contentLength: item.contentLength, params: body.params, metadata: item.metadata });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refused.push({ index, error });
    }
  });
  const first = refused[0];
  if (first) {
    const more = refused.length > 1 ? ` (and ${refused.length - 1} more items refused)` : '';
    throw new ApiError(
      first.error.status,
      first.error.code,
      `items[${first.index}]: ${first.error.message}${more}`,
      refused.map(({ index, error }) => ({
        index,
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      })),
    );
  }
  return { model, ...(body.params ? { params: body.params } : {}), items };
}

export interface CreatedBatchJob {
  jobId: string;
  status: JobStatus;
  /** Present while the job awaits its upload (always, for a new batch). */
  upload?: UploadInstructions;
}

export interface CreatedBatch {
  batchId: string;
  model: string;
  total: number;
  jobs: CreatedBatchJob[];
  links: { self: string };
}

export const batchPath = (batchId: string) => `/v1/batches/${batchId}`;

/**
 * Create the batch and its jobs, or with an Idempotency-Key replay it: the same key derives the
 * same batch id and job ids, so a retry after a failure half-way creates the missing jobs and
 * returns the others (fresh upload URLs for those still awaiting an upload), duplicating nothing.
 */
export async function submitBatch(
  ownerId: string,
  request: ValidatedBatchRequest,
  idempotencyKey?: string,
): Promise<{ batch: CreatedBatch; created: boolean }> {
  const config = getConfig();
  const now = Date.now();
  const batchId = idempotencyKey ? derivedId(ownerId, idempotencyKey, 'batch') : randomUUID();
  const jobIds = request.items.map((_, i) => (idempotencyKey ? derivedId(ownerId, idempotencyKey, 'batch', String(i)) : randomUUID()));
  const requestHash = requestHashOf(request);
  const stored = await createBatch({
    batchId,
    ownerId,
    model: request.model,
    ...(request.params ? { params: request.params } : {}),
    createdAt: new Date(now).toISOString(),
    jobIds,
    requestHash,
    expiresAt: Math.floor(now / 1000) + config.JOB_RETENTION_DAYS * 86_400,
  });
  if (!stored.created && (stored.batch.ownerId !== ownerId || stored.batch.requestHash !== requestHash)) {
    throw new ApiError(422, 'idempotency_mismatch', 'this Idempotency-Key was used with a different request', { batchId });
  }
  const limit = pLimit(JOB_WRITE_CONCURRENCY);
  const jobs = await Promise.all(
    request.items.map((item, i) =>
      limit(async (): Promise<CreatedBatchJob> => {
        const { job } = await createJobWithUpload(ownerId, item, jobIds[i]!, { batchId });
        return { jobId: job.jobId, status: job.status, ...(job.upload ? { upload: job.upload } : {}) };
      }),
    ),
  );
  return {
    created: stored.created,
    batch: { batchId, model: request.model, total: jobIds.length, jobs, links: { self: batchPath(batchId) } },
  };
}

export type StatusCounts = Record<JobStatus, number>;

export interface BatchJobView {
  /** The job's place in the creating request's items. */
  index: number;
  jobId: string;
  status: JobStatus;
  result?: unknown;
  resultUrl?: string;
  error?: Job['error'];
  metadata?: Record<string, string>;
}

export interface BatchView {
  batchId: string;
  model: string;
  createdAt: string;
  total: number;
  counts: StatusCounts;
  /** Every job has ended (succeeded, failed, canceled or expired). */
  done: boolean;
  jobs: BatchJobView[];
  nextCursor?: string;
  links: { self: string };
}

export interface PageRequest {
  limit?: string;
  cursor?: string;
}

function parsePage(page: PageRequest, total: number): { offset: number; limit: number } {
  let limit: number = BATCH_PAGE_DEFAULT_LIMIT;
  if (page.limit !== undefined) {
    limit = Number(page.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.BATCH_MAX_ITEMS) {
      throw new ApiError(400, 'bad_request', `limit must be an integer from 1 to ${LIMITS.BATCH_MAX_ITEMS}`);
    }
  }
  let offset = 0;
  if (page.cursor !== undefined) {
    try {
      offset = (JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8')) as { o: number }).o;
    } catch {
      offset = NaN;
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > total) throw new ApiError(400, 'bad_request', 'cursor is not valid');
  }
  return { offset, limit };
}

const cursorAt = (offset: number) => Buffer.from(JSON.stringify({ o: offset })).toString('base64url');

async function batchJobView(index: number, job: Job): Promise<BatchJobView> {
  return {
    index,
    jobId: job.jobId,
    status: job.status,
    ...(job.result !== undefined ? { result: job.result } : {}),
    ...(job.resultKey ? { resultUrl: await createResultUrl(job.jobId) } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.metadata ? { metadata: job.metadata } : {}),
  };
}

/** The owner's batch, or 404 alike for unknown ids and other owners' batches. */
async function ownedBatch(ownerId: string, batchId: string): Promise<Batch> {
  const batch = JOB_ID_PATTERN.test(batchId) ? await getBatch(batchId) : undefined;
  if (!batch || batch.ownerId !== ownerId) throw new ApiError(404, 'not_found', `no batch ${batchId}`);
  return batch;
}

/**
 * The batch as a poller should see it: counts over all its jobs and one page of them. Jobs
 * awaiting an upload are settled against the bucket as GET /v1/jobs/{id} does, so an uploaded job
 * counts as queued (or whatever a worker has made of it since), not as awaiting its upload.
 */
export async function batchStatus(ownerId: string, batchId: string, page: PageRequest = {}, now = Date.now()): Promise<BatchView> {
  const batch = await ownedBatch(ownerId, batchId);
  const { offset, limit } = parsePage(page, batch.jobIds.length);
  const stored = await getJobs(batch.jobIds);
  const settle = pLimit(JOB_WRITE_CONCURRENCY);
  await Promise.all(
    [...stored.values()]
      .filter((job) => job.status === 'awaiting_upload')
      .map((job) => settle(async () => stored.set(job.jobId, await settleUpload(job, now)))),
  );

  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as StatusCounts;
  for (const job of stored.values()) counts[job.status] += 1;

  const jobs: BatchJobView[] = [];
  let bytes = 0;
  let next = offset;
  for (; next < Math.min(offset + limit, batch.jobIds.length); next++) {
    const job = stored.get(batch.jobIds[next]!);
    // Missing only while a failed create awaits its retry; nothing to show for it yet.
    if (!job) continue;
    const view = await batchJobView(next, job);
    bytes += Buffer.byteLength(JSON.stringify(view));
    if (bytes > BATCH_PAGE_MAX_BYTES && jobs.length > 0) break;
    jobs.push(view);
  }
  return {
    batchId: batch.batchId,
    model: batch.model,
    createdAt: batch.createdAt,
    total: batch.jobIds.length,
    counts,
    done: stored.size === batch.jobIds.length && [...stored.values()].every((job) => isTerminal(job.status)),
    jobs,
    ...(next < batch.jobIds.length ? { nextCursor: cursorAt(next) } : {}),
    links: { self: batchPath(batch.batchId) },
  };
}
