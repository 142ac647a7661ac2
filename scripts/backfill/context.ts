import type { PipelineClient } from '#shared/client/pipeline-client.ts';
import type { RetryOptions } from '#shared/retry.ts';
import type { AppendLog, ResultLine } from './journal.ts';
import type { Item, OpenBatch, OpenBatches } from './open-batches.ts';

/** What the parts of a run (submitter, uploader, poller, recovery) share: the run's own state lives in each part. */

export type BackfillEvent =
  | { type: 'batch'; batchId: string; jobs: number }
  | { type: 'uploaded'; path: string; jobId: string }
  /** The upload could not be done now (the cloud was away): no result line; --resume retries it. */
  | { type: 'deferred'; path: string; jobId: string; error: string }
  | { type: 'result'; line: ResultLine }
  | { type: 'retry'; what: string; attempt: number; delayMs: number; error: string };

/** A result line's outcome, without the item's path and job id. */
export type Outcome = Omit<ResultLine, 'path' | 'jobId'>;

export interface RunContext {
  readonly client: PipelineClient;
  /** Aborted when the run stops (the caller's signal, a fatal error, or the end). */
  readonly signal: AbortSignal;
  readonly state: AppendLog;
  readonly open: OpenBatches;
  readonly counts: { uploaded: number; deferred: number };
  /** Retry options for an API call or upload, reporting each retry as an event. */
  retrying(what: string): RetryOptions;
  /** Write a file's final line (results file and tally). */
  record(line: ResultLine): void;
  /** Write an item's final line and settle it in its batch. */
  resolve(batch: OpenBatch, item: Item, outcome: Outcome): void;
  /** Cancel a job that will never get its file (housekeeping: waited for briefly at the end). */
  cancelJob(jobId: string): void;
  emit(event: BackfillEvent): void;
}
