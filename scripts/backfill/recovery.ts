import { ApiRequestError } from '#shared/client/pipeline-client.ts';
import type { JobStatus } from '#shared/jobs/model.ts';
import { withRetry } from '#shared/retry.ts';
import type { UploadInstructions } from '#shared/storage/presign.ts';
import type { RunContext } from './context.ts';
import { BackfillError } from './errors.ts';
import { type PendingBatch, pathKey, type Resumption } from './journal.ts';
import { OpenBatch } from './open-batches.ts';
import type { Submitter } from './submitter.ts';
import type { Uploader } from './uploader.ts';

/**
 * Resuming: what earlier runs left open is settled by the jobs' own state, before anything new is
 * walked. Uploaded jobs are polled for, never uploaded again; jobs still awaiting their file get
 * fresh upload URLs by replaying their batch's create (same key, same body) and are uploaded;
 * requests on record whose batch line is missing are posted again with their key, which returns
 * the batch the API made (or makes it now). Only jobs that can no longer take a file (canceled,
 * expired, or a batch gone) leave their files to be sent again as new work.
 */

/** Statuses that mean S3 has the object. */
const LANDED: ReadonlySet<JobStatus> = new Set(['queued', 'running', 'succeeded', 'failed']);

async function statusesOf(ctx: RunContext, batchId: string): Promise<Map<string, JobStatus>> {
  const statuses = new Map<string, JobStatus>();
  try {
    let cursor: string | undefined;
    do {
      const { batch: view } = await withRetry(() => ctx.client.getBatch(batchId, { ...(cursor ? { cursor } : {}) }), ctx.retrying('read batch'));
      for (const job of view.jobs) statuses.set(job.jobId, job.status);
      cursor = view.nextCursor;
    } while (cursor);
  } catch (error) {
    if (!(error instanceof ApiRequestError && error.status === 404)) throw error;
  }
  return statuses;
}

async function reopen(ctx: RunContext, submitter: Submitter, earlier: PendingBatch, skip: Set<string>): Promise<OpenBatch> {
  const statuses = await statusesOf(ctx, earlier.batchId);
  const batch = new OpenBatch(earlier.batchId, earlier.key, submitter.requestFor(earlier.request));
  const awaiting = earlier.items.filter((item) => !item.uploaded && statuses.get(item.jobId) === 'awaiting_upload');
  const uploads = awaiting.length > 0 ? await freshUploads(ctx, batch) : new Map<string, UploadInstructions>();
  for (const item of earlier.items) {
    const status = statuses.get(item.jobId);
    const common = { path: item.path, jobId: item.jobId, contentLength: item.contentLength };
    const upload = uploads.get(item.jobId);
    // The state file may lack an upload S3 accepted just before the stop: the job's status tells.
    if (item.uploaded || (status !== undefined && LANDED.has(status))) batch.add(common, 'uploaded');
    else if (status === 'awaiting_upload' && upload) batch.add({ ...common, upload }, 'to_upload');
    else {
      // Canceled, expired, gone, or its URL could not be renewed: the file is sent again as new work.
      if (status === 'awaiting_upload') ctx.cancelJob(item.jobId);
      continue;
    }
    skip.add(pathKey(item.path));
  }
  return batch;
}

/** Fresh upload URLs by job, from replaying the batch's create; none if the API refuses the replay (nothing would make it accept it later). */
async function freshUploads(ctx: RunContext, batch: OpenBatch): Promise<Map<string, UploadInstructions>> {
  try {
    const { batch: replayed } = await withRetry(() => ctx.client.createBatch(batch.request, { idempotencyKey: batch.key }), ctx.retrying('renew upload URLs'));
    return new Map(replayed.jobs.flatMap((job) => (job.upload ? [[job.jobId, job.upload] as const] : [])));
  } catch (error) {
    if (error instanceof ApiRequestError && error.status < 500 && error.status !== 429) return new Map();
    throw error;
  }
}

export async function recoverEarlierRuns(
  ctx: RunContext,
  resumption: Resumption,
  parts: { submitter: Submitter; uploader: Uploader },
  /** Paths settled here, not to be walked again. */
  skip: Set<string>,
): Promise<void> {
  for (const earlier of resumption.pending) {
    if (ctx.signal.aborted) return;
    const batch = await reopen(ctx, parts.submitter, earlier, skip);
    if (batch.settled) continue;
    ctx.open.open(batch);
    parts.uploader.schedule(batch);
  }
  for (const submit of resumption.unconfirmed) {
    if (ctx.signal.aborted) return;
    for (const item of submit.items) skip.add(pathKey(item.path));
    try {
      const batch = await parts.submitter.submit(submit.items, { seq: submit.seq, key: submit.key });
      if (batch) parts.uploader.schedule(batch);
    } catch (error) {
      if (!(error instanceof BackfillError)) throw error;
      // The API will not take this request again: its files go out as new work (which meets any lasting refusal itself).
      for (const item of submit.items) skip.delete(pathKey(item.path));
    }
  }
}
