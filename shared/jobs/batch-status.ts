import { z } from 'zod';
import { LIMITS } from '../config.ts';
import { ApiError } from '../errors.ts';
import { issueDetails } from '../validation.ts';
import { getJobs } from './batch-store.ts';
import { isTerminal, type Job, JOB_STATUSES, type JobStatus } from './model.ts';
import { ownedBatch } from './ownership.ts';
import type { BatchJobView, BatchView } from './responses.ts';
import { batchPath, viewOf } from './views.ts';
import { waitUntil } from './waiting.ts';

/** GET /v1/batches/{batchId}: counts over all of a batch's jobs, and one page of them. */

/** Jobs per page when `limit` is not given: a whole batch. */
export const BATCH_PAGE_DEFAULT_LIMIT = LIMITS.BATCH_MAX_ITEMS;
/**
 * A page stops early once its jobs pass this many bytes of JSON, so a page of large inline
 * results stays under Lambda's 6 MB response limit (results themselves are at most ~300 KB).
 */
export const BATCH_PAGE_MAX_BYTES = 4 * 1024 * 1024;

export type StatusCounts = Record<JobStatus, number>;

export type { BatchJobView, BatchView } from './responses.ts';

/** The query of GET /v1/batches/{batchId}: parsed here, and documented from this schema (functions/api/route-docs.ts). */
export const BatchPageQuery = z.object({
  limit: z.coerce
    .number<string>()
    .int()
    .min(1)
    .max(LIMITS.BATCH_MAX_ITEMS)
    .optional()
    .describe(`jobs per page, 1 to ${LIMITS.BATCH_MAX_ITEMS}; default: the whole batch (a page also stops before ${BATCH_PAGE_MAX_BYTES / 1024 / 1024} MB of JSON)`),
  cursor: z.string().optional().describe("the previous page's nextCursor"),
});
export type PageRequest = z.input<typeof BatchPageQuery>;

function parsePage(page: PageRequest, total: number): { offset: number; limit: number } {
  const query = BatchPageQuery.safeParse(page);
  if (!query.success) throw new ApiError('bad_request', `limit must be an integer from 1 to ${LIMITS.BATCH_MAX_ITEMS}`, issueDetails(query.error));
  const limit = query.data.limit ?? BATCH_PAGE_DEFAULT_LIMIT;
  let offset = 0;
  if (page.cursor !== undefined) {
    try {
      offset = (JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8')) as { o: number }).o;
    } catch {
      offset = NaN;
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > total) throw new ApiError('bad_request', 'cursor is not valid');
  }
  return { offset, limit };
}

const cursorAt = (offset: number) => Buffer.from(JSON.stringify({ o: offset })).toString('base64url');

/** Counts of a batch's jobs by status; done when every job exists and has ended. */
export function summarize(jobIds: readonly string[], stored: ReadonlyMap<string, Job>): { counts: StatusCounts; done: boolean } {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as StatusCounts;
  for (const job of stored.values()) counts[job.status] += 1;
  return { counts, done: stored.size === jobIds.length && [...stored.values()].every((job) => isTerminal(job.status)) };
}

/**
 * The batch as it stands: counts over all its jobs (each moved by its own events) and one page of
 * them. With `waitSeconds`, held until every job has ended or the time is up (`Prefer: wait=N`).
 */
export async function batchStatus(ownerId: string, batchId: string, page: PageRequest = {}, waitSeconds = 0): Promise<BatchView> {
  const batch = await ownedBatch(ownerId, batchId);
  const { offset, limit } = parsePage(page, batch.jobIds.length);
  const stored = await waitUntil(() => getJobs(batch.jobIds), (jobs) => summarize(batch.jobIds, jobs).done, waitSeconds);
  const { counts, done } = summarize(batch.jobIds, stored);

  const jobs: BatchJobView[] = [];
  let bytes = 0;
  let next = offset;
  for (; next < Math.min(offset + limit, batch.jobIds.length); next++) {
    const job = stored.get(batch.jobIds[next]!);
    // Missing only while a failed create awaits its retry; nothing to show for it yet.
    if (!job) continue;
    const view: BatchJobView = { index: next, ...(await viewOf(job)) };
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
    done,
    jobs,
    ...(next < batch.jobIds.length ? { nextCursor: cursorAt(next) } : {}),
    links: { self: batchPath(batch.batchId) },
  };
}
