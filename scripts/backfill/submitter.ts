import { createHash } from 'node:crypto';
import { ApiRequestError, type CreateBatchInput } from '#shared/client/pipeline-client.ts';
import { withRetry } from '#shared/retry.ts';
import type { RunContext } from './context.ts';
import { BackfillError } from './errors.ts';
import type { SubmitItemRecord } from './journal.ts';
import { OpenBatch } from './open-batches.ts';

/**
 * Submitting: files become jobs, up to 100 per POST /v1/batches. Each request's Idempotency-Key is
 * derived from the run, its sequence number and its files, and recorded (and synced) before the
 * POST, so any batch the API may have made is on record: a crash at any point is recovered by
 * posting the same request with the same key, which returns the same batch and jobs.
 */

/** The key of a run's seq-th batch request for these files. */
export function batchKey(runId: string, seq: number, files: readonly SubmitItemRecord[]): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(files.map((f) => [f.path, f.contentType, f.contentLength])))
    .digest('hex')
    .slice(0, 16);
  return `backfill:${runId}:${seq}:${digest}`;
}

/** The items a 413/415 refusal of a batch names (details: [{index, code, message}]), or undefined for a refusal of the whole request. */
function refusedItems(error: unknown, count: number): Map<number, { code: string; message: string }> | undefined {
  if (!(error instanceof ApiRequestError) || (error.status !== 413 && error.status !== 415) || !Array.isArray(error.details)) return undefined;
  const refused = new Map<number, { code: string; message: string }>();
  for (const entry of error.details as { index?: unknown; code?: unknown; message?: unknown }[]) {
    if (typeof entry?.index !== 'number' || entry.index < 0 || entry.index >= count) return undefined;
    refused.set(entry.index, { code: String(entry.code ?? error.code), message: String(entry.message ?? error.message) });
  }
  return refused.size > 0 ? refused : undefined;
}

export class Submitter {
  #nextSeq: number;

  constructor(
    private readonly ctx: RunContext,
    private readonly run: { runId: string; model?: string; params?: Record<string, unknown>; nextSeq: number; maxOpenBatches: number },
  ) {
    this.#nextSeq = run.nextSeq;
  }

  /** The create request for these files; replaying it byte for byte (with the key) returns the same batch. */
  requestFor(files: readonly SubmitItemRecord[]): CreateBatchInput {
    return {
      ...(this.run.model ? { model: this.run.model } : {}),
      ...(this.run.params ? { params: this.run.params } : {}),
      items: files.map((f) => ({ contentType: f.contentType, contentLength: f.contentLength })),
    };
  }

  /**
   * Create a batch for these files once fewer than maxOpenBatches are open. Items the API refuses
   * (too large, type not accepted) are written as skipped and the rest sent again. `recorded` is a
   * submit already on record (resume): its seq and key are used again.
   */
  async submit(files: readonly SubmitItemRecord[], recorded?: { seq: number; key: string }): Promise<OpenBatch | undefined> {
    const { ctx } = this;
    while (ctx.open.size >= this.run.maxOpenBatches && !ctx.signal.aborted) await ctx.open.nextChange(ctx.signal);
    let remaining = files;
    let replay = recorded;
    while (remaining.length > 0 && !ctx.signal.aborted) {
      const seq = replay?.seq ?? this.#nextSeq++;
      const key = replay?.key ?? batchKey(this.run.runId, seq, remaining);
      if (!replay) {
        ctx.state.append({ t: 'submit', seq, key, items: remaining.map(({ path, contentType, contentLength }) => ({ path, contentType, contentLength })) });
        ctx.state.sync();
      }
      replay = undefined;
      const request = this.requestFor(remaining);
      let created;
      try {
        created = (await withRetry(() => ctx.client.createBatch(request, { idempotencyKey: key }), ctx.retrying('create batch'))).batch;
      } catch (error) {
        if (ctx.signal.aborted) return undefined;
        const refused = refusedItems(error, remaining.length);
        if (!refused) {
          if (error instanceof ApiRequestError && error.status < 500 && error.status !== 429) {
            throw new BackfillError(`the API refused the batch: ${error.status} ${error.code}: ${error.message}`);
          }
          throw error;
        }
        for (const [index, reason] of refused) ctx.record({ path: remaining[index]!.path, status: 'skipped', error: reason });
        remaining = remaining.filter((_, index) => !refused.has(index));
        continue;
      }
      // Recorded before any upload, even if the run is stopping: a resume must know these jobs exist.
      ctx.state.append({
        t: 'batch',
        seq,
        key,
        batchId: created.batchId,
        items: remaining.map((f, i) => ({ path: f.path, jobId: created.jobs[i]!.jobId, contentType: f.contentType, contentLength: f.contentLength })),
      });
      ctx.state.sync();
      const batch = new OpenBatch(created.batchId, key, request);
      remaining.forEach((f, i) => {
        const job = created.jobs[i]!;
        // A replayed batch may hold jobs a lost upload already reached: those are polled, not uploaded.
        const phase = job.status === 'awaiting_upload' ? 'to_upload' : 'uploaded';
        batch.add({ path: f.path, jobId: job.jobId, contentLength: f.contentLength, ...(job.upload ? { upload: job.upload } : {}) }, phase);
      });
      ctx.open.open(batch);
      ctx.emit({ type: 'batch', batchId: batch.batchId, jobs: remaining.length });
      return batch;
    }
    return undefined;
  }

  /** Replay the batch's create (same Idempotency-Key, same body): fresh URLs for jobs still awaiting their upload. */
  refreshUploads(batch: OpenBatch): Promise<void> {
    const { ctx } = this;
    batch.refreshing ??= (async () => {
      const { batch: replayed } = await withRetry(
        () => ctx.client.createBatch(batch.request, { idempotencyKey: batch.key }),
        ctx.retrying('refresh upload URLs'),
      );
      for (const job of replayed.jobs) {
        const item = batch.items.get(job.jobId);
        if (item?.phase === 'to_upload') item.upload = job.upload;
      }
    })().finally(() => (batch.refreshing = undefined));
    return batch.refreshing;
  }
}
