import { stat } from 'node:fs/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { JobStatus } from '#shared/jobs/model.ts';
import { UploadError, uploadFile } from '#shared/client/pipeline-client.ts';
import { isTransientError, withRetry } from '#shared/retry.ts';
import type { UploadInstructions } from '#shared/storage/presign.ts';
import type { Outcome, RunContext } from './context.ts';
import type { Item, OpenBatch } from './open-batches.ts';
import type { Submitter } from './submitter.ts';

/** How long a failed upload's job is watched for signs that the object landed after all (a long poll). */
const LANDED_WAIT_SECONDS = 3;

/**
 * Uploading: each item's file streamed from disk to its presigned URL, a bounded number at once.
 * A failed upload is never written as final on the uploader's say-so: the job is asked first. If
 * the object in fact landed (the reply was lost), the item is polled like any upload; if the cloud
 * was away (connection refused or reset, timeouts, 5xx, a 403 from a restarted S3), the item is
 * deferred — no result line, so --resume uploads it — and only a refusal no retry can change
 * (a 4xx, an unreadable file) is written failed, with its job canceled.
 */

/** How a file reaches its presigned URL (uploadFile; tests wrap it to lose replies). */
export type SendFile = (upload: UploadInstructions, path: string, options: { signal?: AbortSignal }) => Promise<void>;

/** Statuses that mean S3 has the object (the job went on without us hearing back). */
const LANDED: ReadonlySet<JobStatus> = new Set(['queued', 'running', 'succeeded', 'failed']);

const isFileError = (error: unknown) =>
  typeof (error as NodeJS.ErrnoException)?.syscall === 'string' && ['open', 'read', 'stat', 'fstat'].includes((error as NodeJS.ErrnoException).syscall!);

/** Why an upload failed for good, or undefined when a later attempt (--resume) may pass. */
function finalReason(error: unknown): Outcome['error'] | undefined {
  if (isFileError(error)) return { code: 'unreadable', message: `cannot read the file (${(error as NodeJS.ErrnoException).code})` };
  if (error instanceof UploadError) {
    // 403: a URL that expired, or one signed by an S3 that has restarted since; renewed on resume.
    if (error.status === 403 || isTransientError(error)) return undefined;
    return { code: 'upload_failed', message: `S3 refused the upload: ${error.status} ${error.code}: ${error.message}` };
  }
  return undefined;
}

export class Uploader {
  readonly #limit: LimitFunction;
  readonly #send: SendFile;
  readonly #tasks = new Set<Promise<void>>();

  constructor(
    private readonly ctx: RunContext,
    private readonly submitter: Submitter,
    options: { concurrency: number; send?: SendFile },
    /** Where an error that must stop the run goes (a state file that cannot be written). */
    private readonly fail: (error: unknown) => void,
  ) {
    this.#limit = pLimit(options.concurrency);
    this.#send = options.send ?? uploadFile;
  }

  /** Queue the batch's items still to upload. */
  schedule(batch: OpenBatch): void {
    for (const item of batch.items.values()) {
      if (item.phase !== 'to_upload') continue;
      const task = this.#limit(() => this.#upload(batch, item)).catch(this.fail);
      this.#tasks.add(task);
      void task.finally(() => this.#tasks.delete(task));
    }
  }

  /** Resolves when every queued upload has ended. */
  async drained(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  async #upload(batch: OpenBatch, item: Item): Promise<void> {
    const { ctx } = this;
    if (ctx.signal.aborted || item.phase !== 'to_upload') return;
    try {
      // A file that changed since it was inspected would be refused by S3 (or stall it, when shorter).
      const size = (await stat(item.path)).size;
      if (size !== item.contentLength) {
        ctx.resolve(batch, item, { status: 'failed', error: { code: 'file_changed', message: `the file is now ${size} bytes, not ${item.contentLength}` } });
        ctx.cancelJob(item.jobId);
        return;
      }
      await this.#sendWithRenewal(batch, item);
    } catch (error) {
      if (!ctx.signal.aborted) await this.#settleFailure(batch, item, error);
      return;
    }
    this.#uploaded(batch, item);
  }

  /** Send with retries; a 403 (URL expired while queued, or S3 restarted) renews the batch's URLs once. */
  async #sendWithRenewal(batch: OpenBatch, item: Item): Promise<void> {
    const { ctx } = this;
    for (let renewed = false; ; renewed = true) {
      const upload = item.upload;
      if (!upload) throw new Error('no upload URL: the job no longer awaits an upload');
      try {
        await withRetry(() => this.#send(upload, item.path, { signal: ctx.signal }), ctx.retrying(`upload ${item.path}`));
        return;
      } catch (error) {
        if (!(error instanceof UploadError && error.status === 403) || renewed) throw error;
        item.upload = undefined;
        await this.submitter.refreshUploads(batch);
      }
    }
  }

  #uploaded(batch: OpenBatch, item: Item): void {
    const { ctx } = this;
    ctx.state.append({ t: 'up', jobId: item.jobId });
    ctx.open.move(batch, item, 'uploaded');
    ctx.counts.uploaded += 1;
    ctx.emit({ type: 'uploaded', path: item.path, jobId: item.jobId });
  }

  /** Decide a failed upload by the job's own state: landed, deferred to --resume, or failed for good. */
  async #settleFailure(batch: OpenBatch, item: Item, error: unknown): Promise<void> {
    const { ctx } = this;
    const reason = finalReason(error);
    let job;
    try {
      job = (await withRetry(() => ctx.client.getJob(item.jobId), ctx.retrying('check job'))).job;
      // An object that did land moves its job on within moments (the storage event, a worker):
      // give it that long before calling the upload lost.
      if (job.status === 'awaiting_upload' && !reason) {
        job = (await withRetry(() => ctx.client.getJob(item.jobId, { waitSeconds: LANDED_WAIT_SECONDS }), ctx.retrying('check job'))).job;
      }
    } catch {
      // The API is away too: nothing can be decided now.
    }
    if (ctx.signal.aborted || item.phase !== 'to_upload') return;
    if (!job || (job.status === 'awaiting_upload' && !reason)) {
      ctx.open.move(batch, item, 'deferred');
      ctx.counts.deferred += 1;
      ctx.emit({ type: 'deferred', path: item.path, jobId: item.jobId, error: (error as Error)?.message ?? String(error) });
    } else if (job.status === 'awaiting_upload') {
      ctx.resolve(batch, item, { status: 'failed', error: reason! });
      ctx.cancelJob(item.jobId);
    } else if (LANDED.has(job.status)) {
      this.#uploaded(batch, item);
    } else {
      ctx.resolve(batch, item, { status: 'failed', error: job.error ?? { code: job.status, message: `the job ended ${job.status}` } });
    }
  }
}
