import pLimit from 'p-limit';
import type { BatchJobView, BatchView } from '#shared/jobs/batch-status.ts';
import { ApiRequestError, PipelineClient } from '#shared/client/pipeline-client.ts';
import { sleep, withRetry } from '#shared/retry.ts';
import type { Outcome, RunContext } from './context.ts';
import type { OpenBatch } from './open-batches.ts';
import { TERMINAL_STATUSES } from '#shared/jobs/model.ts';

/**
 * Polling: GET /v1/batches/{id} for each open batch whose uploads are done, writing each job's
 * line as it ends. Each first page asks `Prefer: wait=N`; a server that answers
 * `Preference-Applied: wait=N` has held the reply (long poll), so the next poll goes at once.
 * Otherwise polls start at the minimum interval and back off while nothing changes.
 */

/** Batch status requests at once. */
const POLL_CONCURRENCY = 4;
const MAX_POLL_INTERVAL_MS = 2_000;
/** The long poll asked for: under the API's cap of 25 s, and well under any proxy's idle timeout. */
export const LONG_POLL_SECONDS = 20;
const TERMINAL = new Set<string>(TERMINAL_STATUSES);

export interface BatchPage {
  batch: BatchView;
  /** The server held the reply as asked (Preference-Applied: wait=N). */
  waited: boolean;
}

/**
 * One page of a batch, asking for a long poll. (PipelineClient.getBatch sends no Prefer header and
 * does not return Preference-Applied; this is that call with both, until the client has them.)
 */
export async function readBatchPage(
  api: { apiUrl: string; apiKey: string },
  batchId: string,
  options: { cursor?: string; waitSeconds?: number; signal?: AbortSignal },
): Promise<BatchPage> {
  const { batch, waited } = await new PipelineClient(api.apiUrl, api.apiKey).getBatch(
    batchId,
    options.cursor === undefined ? {} : { cursor: options.cursor },
    { ...(options.waitSeconds ? { waitSeconds: options.waitSeconds } : {}), ...(options.signal ? { signal: options.signal } : {}) },
  );
  return { batch, waited };
}

export class Poller {
  readonly #limit = pLimit(POLL_CONCURRENCY);

  constructor(
    private readonly ctx: RunContext,
    private readonly options: { apiUrl: string; apiKey: string; minIntervalMs: number; jobTimeoutMs: number },
  ) {}

  /** Poll until nothing is produced any more and no batch is open. */
  async run(producing: () => boolean): Promise<void> {
    const { ctx } = this;
    let interval = this.options.minIntervalMs;
    while (!ctx.signal.aborted) {
      const active = [...ctx.open.values()].filter((b) => b.pollable);
      if (active.length === 0) {
        if (!producing() && ctx.open.size === 0) return;
        await ctx.open.nextChange(ctx.signal);
        interval = this.options.minIntervalMs;
        continue;
      }
      const rounds = await Promise.all(active.map((b) => this.#limit(() => this.#pollBatch(b))));
      // A held reply already waited: poll again after the minimum only (never a hot loop, whatever the server does).
      const quick = rounds.some((r) => r.progressed || r.waited);
      interval = quick ? this.options.minIntervalMs : Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
      await sleep(interval, ctx.signal).catch(() => undefined);
    }
  }

  async #pollBatch(batch: OpenBatch): Promise<{ progressed: boolean; waited: boolean }> {
    const { ctx } = this;
    let progressed = false;
    let waited = false;
    let cursor: string | undefined;
    do {
      let page: BatchPage;
      try {
        page = await withRetry(
          () => readBatchPage(this.options, batch.batchId, { ...(cursor ? { cursor } : { waitSeconds: LONG_POLL_SECONDS }), signal: ctx.signal }),
          ctx.retrying('poll batch'),
        );
      } catch (error) {
        if (!(error instanceof ApiRequestError && error.status === 404)) throw error;
        // Gone (past its retention, or another key's): its results cannot be had.
        for (const item of batch.items.values()) {
          if (item.phase === 'uploaded') ctx.resolve(batch, item, { status: 'failed', error: { code: 'batch_not_found', message: `batch ${batch.batchId} is gone` } });
        }
        return { progressed: true, waited };
      }
      waited ||= page.waited;
      for (const job of page.batch.jobs) {
        const item = batch.items.get(job.jobId);
        if (item?.phase !== 'uploaded' || !TERMINAL.has(job.status)) continue;
        const outcome = await this.#outcomeOf(job);
        if (item.phase === 'uploaded') ctx.resolve(batch, item, outcome);
        progressed = true;
      }
      cursor = page.batch.nextCursor;
    } while (cursor && batch.awaitingResult > 0);
    const now = Date.now();
    for (const item of batch.items.values()) {
      if (item.phase === 'uploaded' && now - item.uploadedAt! > this.options.jobTimeoutMs) {
        ctx.resolve(batch, item, {
          status: 'failed',
          error: { code: 'client_timeout', message: `no result ${Math.round(this.options.jobTimeoutMs / 1000)} s after the upload` },
        });
        progressed = true;
      }
    }
    return { progressed, waited };
  }

  async #outcomeOf(job: BatchJobView): Promise<Outcome> {
    const { ctx } = this;
    if (job.status !== 'succeeded') {
      return { status: 'failed', error: job.error ?? { code: job.status, message: `the job ended ${job.status}` } };
    }
    if (job.result !== undefined || !job.resultUrl) return { status: 'succeeded', result: job.result };
    // A large result lives in S3 behind a short-lived URL: keep the result itself.
    try {
      const result = await withRetry(async () => {
        const response = await fetch(job.resultUrl!, { signal: ctx.signal });
        if (!response.ok) throw Object.assign(new Error(`result fetch: HTTP ${response.status}`), { status: response.status });
        return (await response.json()) as unknown;
      }, ctx.retrying('fetch result'));
      return { status: 'succeeded', result };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { status: 'succeeded', resultUrl: job.resultUrl };
    }
  }
}
