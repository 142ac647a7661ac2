import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { BatchJobView } from '#shared/jobs/batch-status.ts';
import { ApiRequestError, type CreateBatchInput, PipelineClient, UploadError, uploadFile } from '#shared/client/pipeline-client.ts';
import { LIMITS } from '#shared/config.ts';
import { type RetryOptions, sleep, withRetry } from '#shared/retry.ts';
import type { UploadInstructions } from '#shared/storage/presign.ts';
import { countPaths, type Inspection, inputKind, inspectFile, pathsOfAll } from './inputs.ts';
import { AppendLog, type PendingBatch, pathKey, readResumption, type ResultLine, type RunRecord, Tally } from './journal.ts';
import { createProgress, type ProgressMode, type ProgressSnapshot } from './progress.ts';

/**
 * Backfill: push every image the inputs name through the pipeline and write one JSONL line per
 * file. Files are found lazily, created as jobs 100 at a time (POST /v1/batches), streamed from
 * disk to their presigned URLs with bounded concurrency, and polled one batch route per batch.
 * Memory stays flat: at most `maxOpenBatches` batches are open (created, not all results in).
 *
 * The library entry point is runBackfill(); scripts/backfill/main.ts is the CLI around it.
 */

export const BACKFILL_DEFAULTS = {
  out: 'backfill-results.jsonl',
  /** Uploads in flight. */
  concurrency: 8,
  batchSize: LIMITS.BATCH_MAX_ITEMS,
  /** Batches created and not yet finished: bounds memory and how far uploads run ahead of the workers. */
  maxOpenBatches: 4,
  /** The quickest a batch is polled again; polls slow down (to 2 s) while nothing changes. */
  pollIntervalMs: 250,
  /** An uploaded image with no result after this long is written as failed (client_timeout). */
  jobTimeoutMs: 30 * 60_000,
} as const;

/** Files inspected (opened, first bytes read) at once ahead of batching. */
const INSPECT_CONCURRENCY = 16;
/** Batch status requests at once. */
const POLL_CONCURRENCY = 4;
const MAX_POLL_INTERVAL_MS = 2_000;
/** How long the end of a run waits for its job cancellations. */
const CANCEL_GRACE_MS = 5_000;
const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'expired']);

export interface BackfillOptions {
  /** Directories (walked recursively), glob patterns, list files (.txt: one path per line) or image files. */
  inputs: string | readonly string[];
  /** The model to run (the API's default when omitted). */
  model?: string;
  params?: Record<string, unknown>;
  apiUrl: string;
  apiKey: string;
  /** The results file (JSONL); its state file is `<out>.state`. */
  out?: string;
  /** Continue the run recorded in `out` and its state file, instead of refusing to overwrite them. */
  resume?: boolean;
  concurrency?: number;
  /** Jobs per POST /v1/batches, at most LIMITS.BATCH_MAX_ITEMS. */
  batchSize?: number;
  maxOpenBatches?: number;
  pollIntervalMs?: number;
  jobTimeoutMs?: number;
  /** Aborting stops the run cleanly (in-flight uploads are cut, state kept): the summary says `interrupted`. */
  signal?: AbortSignal;
  /** Progress on stderr (or progressStream): 'auto' is a bar on a terminal and periodic lines otherwise. Default 'none'. */
  progress?: ProgressMode;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Backoff for API calls and uploads (429, 5xx, network errors). */
  retry?: Pick<RetryOptions, 'attempts' | 'baseDelayMs' | 'maxDelayMs'>;
  /** Each batch created, upload done, result written and retry, as it happens (benchmarks, tests, custom UIs). */
  onEvent?: (event: BackfillEvent) => void;
}

export type BackfillEvent =
  | { type: 'batch'; batchId: string; jobs: number }
  | { type: 'uploaded'; path: string; jobId: string }
  | { type: 'result'; line: ResultLine }
  | { type: 'retry'; what: string; attempt: number; delayMs: number; error: string };

export interface BackfillSummary {
  /** Files with a line in the results file, earlier runs included. */
  files: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Failed and skipped files by error code. */
  failuresByCode: Record<string, number>;
  /** Lines the results file already had when this run started (--resume). */
  previouslyDone: number;
  thisRun: {
    /** Result lines written. */
    results: number;
    /** Images that went through the pipeline (succeeded or failed there), skipped files not counted. */
    processed: number;
    uploaded: number;
    elapsedMs: number;
    /** processed ÷ elapsed seconds. */
    imagesPerSecond: number;
  };
  /** Stopped by the signal before the end: run again with resume to finish. */
  interrupted: boolean;
  out: string;
  stateFile: string;
}

/** The run cannot go on as asked (bad options, a refused key or model): retrying will not help. */
export class BackfillError extends Error {
  override readonly name = 'BackfillError';
}

export const stateFileOf = (out: string) => `${out}.state`;

interface Item {
  path: string;
  jobId: string;
  /** The size the job was created for: the presigned URL accepts exactly this many bytes. */
  contentLength: number;
  upload?: UploadInstructions;
  uploaded: boolean;
  uploadedAt?: number;
  resolved: boolean;
}

interface OpenBatch {
  batchId: string;
  key: string;
  /** The create request, to replay for fresh upload URLs (absent for batches of an earlier run). */
  request?: CreateBatchInput;
  items: Map<string, Item>;
  /** Items without a result line. */
  unresolved: number;
  /** Uploaded items without a result line: what polling waits for. */
  awaitingResult: number;
  refreshing?: Promise<void>;
}

/** Wakes waiters when something changes (a batch finished, an upload landed). */
class Changes {
  #waiters = new Set<() => void>();
  notify(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }
  /** Resolves at the next change, on abort, or after timeoutMs. */
  wait(signal: AbortSignal, timeoutMs = 1_000): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }
}

/** Run fn over the source with at most `limit` at once, yielding results as they complete; pulls from the source only as slots free up. */
async function* mapConcurrent<T, R>(source: AsyncIterable<T>, limit: number, fn: (value: T) => Promise<R>): AsyncGenerator<R> {
  const iterator = source[Symbol.asyncIterator]();
  const running = new Map<number, Promise<{ id: number; value: R }>>();
  let nextId = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.size < limit) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const id = nextId++;
        running.set(id, fn(next.value).then((value) => ({ id, value })));
      }
      if (running.size === 0) return;
      const { id, value } = await Promise.race(running.values());
      running.delete(id);
      yield value;
    }
  } finally {
    await iterator.return?.(undefined);
  }
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

const isFileError = (error: unknown) => typeof (error as NodeJS.ErrnoException)?.syscall === 'string' && ['open', 'read', 'stat', 'fstat'].includes((error as NodeJS.ErrnoException).syscall!);

export async function runBackfill(options: BackfillOptions): Promise<BackfillSummary> {
  const inputs = typeof options.inputs === 'string' ? [options.inputs] : [...options.inputs];
  const out = options.out ?? BACKFILL_DEFAULTS.out;
  const stateFile = stateFileOf(out);
  const concurrency = options.concurrency ?? BACKFILL_DEFAULTS.concurrency;
  const batchSize = options.batchSize ?? BACKFILL_DEFAULTS.batchSize;
  const maxOpenBatches = options.maxOpenBatches ?? BACKFILL_DEFAULTS.maxOpenBatches;
  const minPollMs = options.pollIntervalMs ?? BACKFILL_DEFAULTS.pollIntervalMs;
  const jobTimeoutMs = options.jobTimeoutMs ?? BACKFILL_DEFAULTS.jobTimeoutMs;
  if (inputs.length === 0) throw new BackfillError('no input: name a directory, a glob pattern, a list file or images');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new BackfillError('concurrency must be a positive integer');
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > LIMITS.BATCH_MAX_ITEMS) {
    throw new BackfillError(`batch size must be from 1 to ${LIMITS.BATCH_MAX_ITEMS}`);
  }
  for (const input of inputs) {
    await inputKind(input).catch((error: Error) => {
      throw new BackfillError(error.message);
    });
  }
  if (!options.resume && (existsSync(out) || existsSync(stateFile))) {
    throw new BackfillError(`${out} (or its state file) already exists: pass --resume to continue that run, or choose another --out`);
  }

  const resumption = options.resume ? await readResumption(out, stateFile) : undefined;
  const previous = resumption?.run;
  if (previous && (previous.model !== options.model || JSON.stringify(previous.params ?? {}) !== JSON.stringify(options.params ?? {}))) {
    throw new BackfillError(
      `${stateFile} records a run of model ${previous.model ?? '(default)'} with params ${JSON.stringify(previous.params ?? {})}: resume it with the same --model and params`,
    );
  }
  const runId = previous?.runId ?? randomUUID();
  // Keys are new in each invocation: a batch created just as the last one was killed (so never
  // recorded) may have taken this seq with other files, and its key must not be replayed with them.
  const session = randomUUID().slice(0, 8);
  let nextSeq = resumption?.nextSeq ?? 0;
  const skip = resumption?.finished ?? new Set<string>();
  // The run's own files, should they lie among its inputs, are not images to send.
  skip.add(pathKey(out)).add(pathKey(stateFile));
  const tally = resumption?.tally ?? new Tally();
  const previouslyDone = tally.total;

  const controller = new AbortController();
  const signal = controller.signal;
  setMaxListeners(concurrency + INSPECT_CONCURRENCY + POLL_CONCURRENCY + 32, signal);
  const onOuterAbort = () => controller.abort(options.signal!.reason);
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const client = new PipelineClient(options.apiUrl, options.apiKey);
  const startedAt = Date.now();
  const stats = { results: 0, processed: 0, uploaded: 0 };
  let total: number | undefined;
  const open = new Map<string, OpenBatch>();
  const changes = new Changes();
  const uploads = new Set<Promise<void>>();
  const cancels = new Set<Promise<unknown>>();
  const uploadLimit = pLimit(concurrency);
  const pollLimit = pLimit(POLL_CONCURRENCY);
  let producing = true;

  const results = new AppendLog(out);
  const state = new AppendLog(stateFile);
  if (!previous) {
    const run: RunRecord = { t: 'run', v: 1, runId, model: options.model, params: options.params, startedAt: new Date(startedAt).toISOString() };
    state.append(run);
  }

  const progress = createProgress(options.progress ?? 'none', options.progressStream);
  progress.update(
    (): ProgressSnapshot => ({
      total,
      done: tally.total,
      succeeded: tally.succeeded,
      failed: tally.failed,
      skipped: tally.skipped,
      uploaded: stats.uploaded,
      doneThisRun: stats.results,
      startedAt,
    }),
  );
  const ownFiles = new Set([pathKey(out), pathKey(stateFile)]);
  countPaths(inputs, signal, (path) => ownFiles.has(pathKey(path))).then(
    (n) => (total = n),
    () => undefined,
  );

  const retrying = (what: string): RetryOptions => ({
    ...options.retry,
    signal,
    onRetry: (error, attempt, delayMs) => options.onEvent?.({ type: 'retry', what, attempt, delayMs, error: (error as Error)?.message ?? String(error) }),
  });

  const record = (line: ResultLine) => {
    results.append(line);
    tally.add(line);
    stats.results += 1;
    if (line.status !== 'skipped') stats.processed += 1;
    options.onEvent?.({ type: 'result', line });
  };

  const cancelJob = (jobId: string) => {
    const canceling = client.cancelJob(jobId).catch(() => undefined);
    cancels.add(canceling);
    void canceling.finally(() => cancels.delete(canceling));
  };

  const resolveItem = (batch: OpenBatch, item: Item, line: Omit<ResultLine, 'path' | 'jobId'>) => {
    if (item.resolved) return;
    item.resolved = true;
    item.upload = undefined;
    record({ path: item.path, jobId: item.jobId, ...line });
    batch.unresolved -= 1;
    if (item.uploaded) batch.awaitingResult -= 1;
    if (batch.unresolved === 0) open.delete(batch.batchId);
    changes.notify();
  };

  const lineFor = async (job: BatchJobView): Promise<Omit<ResultLine, 'path' | 'jobId'>> => {
    if (job.status !== 'succeeded') {
      return { status: 'failed', error: job.error ?? { code: job.status, message: `the job ended ${job.status}` } };
    }
    if (job.result !== undefined || !job.resultUrl) return { status: 'succeeded', result: job.result };
    // A large result lives in S3 behind a short-lived URL: keep the result itself.
    try {
      const result = await withRetry(async () => {
        const response = await fetch(job.resultUrl!, { signal });
        if (!response.ok) throw Object.assign(new Error(`result fetch: HTTP ${response.status}`), { status: response.status });
        return (await response.json()) as unknown;
      }, retrying('fetch result'));
      return { status: 'succeeded', result };
    } catch (error) {
      if (signal.aborted) throw error;
      return { status: 'succeeded', resultUrl: job.resultUrl };
    }
  };

  /** Replay the batch's create (same Idempotency-Key, same body): fresh URLs for jobs still awaiting their upload. */
  const refreshUploads = (batch: OpenBatch): Promise<void> => {
    batch.refreshing ??= (async () => {
      const { batch: replayed } = await withRetry(() => client.createBatch(batch.request!, { idempotencyKey: batch.key }), retrying('refresh upload URLs'));
      for (const job of replayed.jobs) {
        const item = batch.items.get(job.jobId);
        if (item && !item.uploaded && job.upload) item.upload = job.upload;
      }
    })().finally(() => (batch.refreshing = undefined));
    return batch.refreshing;
  };

  const uploadItem = async (batch: OpenBatch, item: Item): Promise<void> => {
    if (signal.aborted || item.resolved) return;
    try {
      // A file that changed since it was inspected would be refused by S3 (or stall it, when shorter).
      const size = (await stat(item.path)).size;
      if (size !== item.contentLength) {
        resolveItem(batch, item, { status: 'failed', error: { code: 'file_changed', message: `the file is now ${size} bytes, not ${item.contentLength}` } });
        cancelJob(item.jobId);
        return;
      }
      let refreshed = false;
      for (;;) {
        const upload = item.upload;
        if (!upload) throw new Error('no upload URL: the job no longer awaits an upload');
        try {
          await withRetry(() => uploadFile(upload, item.path, { signal }), retrying(`upload ${item.path}`));
          break;
        } catch (error) {
          // An upload URL that expired while waiting in the queue: ask for a fresh one, once.
          if (error instanceof UploadError && error.status === 403 && batch.request && !refreshed) {
            refreshed = true;
            item.upload = undefined;
            await refreshUploads(batch);
            continue;
          }
          throw error;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      const reason = isFileError(error)
        ? { code: 'unreadable', message: `cannot read the file (${(error as NodeJS.ErrnoException).code})` }
        : { code: 'upload_failed', message: error instanceof UploadError ? `S3 refused the upload: ${error.status} ${error.code}: ${error.message}` : (error as Error).message };
      resolveItem(batch, item, { status: 'failed', error: reason });
      cancelJob(item.jobId);
      return;
    }
    state.append({ t: 'up', jobId: item.jobId });
    item.uploaded = true;
    item.upload = undefined;
    item.uploadedAt = Date.now();
    batch.awaitingResult += 1;
    stats.uploaded += 1;
    options.onEvent?.({ type: 'uploaded', path: item.path, jobId: item.jobId });
    changes.notify();
  };

  const scheduleUploads = (batch: OpenBatch) => {
    for (const item of batch.items.values()) {
      const task = uploadLimit(() => uploadItem(batch, item));
      uploads.add(task);
      void task.finally(() => uploads.delete(task));
    }
  };

  /** Create a batch for these files; items the API refuses (too large, type not accepted) are written as skipped and the rest sent again. */
  const submit = async (files: Extract<Inspection, { ok: true }>[]) => {
    while (open.size >= maxOpenBatches && !signal.aborted) await changes.wait(signal);
    let remaining = files;
    while (remaining.length > 0 && !signal.aborted) {
      const seq = nextSeq++;
      const key = `backfill:${runId}:${session}:${seq}`;
      const request: CreateBatchInput = {
        ...(options.model ? { model: options.model } : {}),
        ...(options.params ? { params: options.params } : {}),
        items: remaining.map((f) => ({ contentType: f.contentType, contentLength: f.size })),
      };
      let created;
      try {
        created = (await withRetry(() => client.createBatch(request, { idempotencyKey: key }), retrying('create batch'))).batch;
      } catch (error) {
        if (signal.aborted) return;
        const refused = refusedItems(error, remaining.length);
        if (!refused) {
          if (error instanceof ApiRequestError && error.status < 500 && error.status !== 429) {
            throw new BackfillError(`the API refused the batch: ${error.status} ${error.code}: ${error.message}`);
          }
          throw error;
        }
        for (const [index, reason] of refused) record({ path: remaining[index]!.path, status: 'skipped', error: reason });
        remaining = remaining.filter((_, index) => !refused.has(index));
        continue;
      }
      // Recorded before any upload, even if the run is stopping: a resume must know these jobs exist.
      state.append({
        t: 'batch',
        seq,
        key,
        batchId: created.batchId,
        items: remaining.map((f, i) => ({ path: f.path, jobId: created.jobs[i]!.jobId, contentType: f.contentType, contentLength: f.size })),
      });
      const batch: OpenBatch = { batchId: created.batchId, key, request, items: new Map(), unresolved: remaining.length, awaitingResult: 0 };
      remaining.forEach((f, i) => {
        const job = created.jobs[i]!;
        batch.items.set(job.jobId, { path: f.path, jobId: job.jobId, contentLength: f.size, upload: job.upload, uploaded: false, resolved: false });
      });
      open.set(batch.batchId, batch);
      options.onEvent?.({ type: 'batch', batchId: batch.batchId, jobs: batch.unresolved });
      if (signal.aborted) {
        for (const item of batch.items.values()) cancelJob(item.jobId);
        return;
      }
      scheduleUploads(batch);
      return;
    }
  };

  /** Earlier runs' batches: uploaded items are polled for; items never uploaded are canceled and sent again as new work. */
  const recover = async (pending: PendingBatch[]) => {
    for (const earlier of pending) {
      if (signal.aborted) return;
      const statuses = new Map<string, string>();
      try {
        let cursor: string | undefined;
        do {
          const { batch: view } = await withRetry(() => client.getBatch(earlier.batchId, { ...(cursor ? { cursor } : {}) }), retrying('read batch'));
          for (const job of view.jobs) statuses.set(job.jobId, job.status);
          cursor = view.nextCursor;
        } while (cursor);
      } catch (error) {
        if (!(error instanceof ApiRequestError && error.status === 404)) throw error;
      }
      const batch: OpenBatch = { batchId: earlier.batchId, key: earlier.key, items: new Map(), unresolved: 0, awaitingResult: 0 };
      for (const item of earlier.items) {
        const status = statuses.get(item.jobId);
        // The state file may lack an upload S3 accepted just before the stop: the job's status tells.
        const uploaded = item.uploaded || (status !== undefined && !['awaiting_upload', 'canceled', 'expired'].includes(status));
        if (uploaded) {
          batch.items.set(item.jobId, { path: item.path, jobId: item.jobId, contentLength: item.contentLength, uploaded: true, uploadedAt: Date.now(), resolved: false });
          batch.unresolved += 1;
          batch.awaitingResult += 1;
          skip.add(pathKey(item.path));
        } else if (status === 'awaiting_upload') {
          cancelJob(item.jobId);
        }
      }
      if (batch.unresolved > 0) open.set(batch.batchId, batch);
    }
  };

  const produce = async () => {
    let files: Extract<Inspection, { ok: true }>[] = [];
    async function* unfinished() {
      for await (const path of pathsOfAll(inputs, signal)) if (!skip.has(pathKey(path))) yield path;
    }
    try {
      for await (const found of mapConcurrent(unfinished(), INSPECT_CONCURRENCY, inspectFile)) {
        if (signal.aborted) break;
        if (!found.ok) {
          record({ path: found.path, status: 'skipped', error: { code: found.code, message: found.message } });
          continue;
        }
        files.push(found);
        if (files.length >= batchSize) {
          await submit(files);
          files = [];
        }
      }
      if (files.length > 0) await submit(files);
    } catch (error) {
      // Once stopping, errors are the stop's own echoes (the walk's abort, a cut request).
      if (!signal.aborted) throw error;
    }
  };

  const pollBatch = async (batch: OpenBatch): Promise<boolean> => {
    let progressed = false;
    let cursor: string | undefined;
    do {
      let view;
      try {
        view = (await withRetry(() => client.getBatch(batch.batchId, { ...(cursor ? { cursor } : {}) }), retrying('poll batch'))).batch;
      } catch (error) {
        if (!(error instanceof ApiRequestError && error.status === 404)) throw error;
        // Gone (past its retention, or another key's): its results cannot be had.
        for (const item of batch.items.values()) {
          if (item.uploaded) resolveItem(batch, item, { status: 'failed', error: { code: 'batch_not_found', message: `batch ${batch.batchId} is gone` } });
        }
        return true;
      }
      for (const job of view.jobs) {
        const item = batch.items.get(job.jobId);
        if (!item || item.resolved || !item.uploaded || !TERMINAL.has(job.status)) continue;
        resolveItem(batch, item, await lineFor(job));
        progressed = true;
      }
      cursor = view.nextCursor;
    } while (cursor && batch.awaitingResult > 0);
    const now = Date.now();
    for (const item of batch.items.values()) {
      if (item.uploaded && !item.resolved && now - item.uploadedAt! > jobTimeoutMs) {
        resolveItem(batch, item, { status: 'failed', error: { code: 'client_timeout', message: `no result ${Math.round(jobTimeoutMs / 1000)} s after the upload` } });
        progressed = true;
      }
    }
    return progressed;
  };

  const poll = async () => {
    let interval = minPollMs;
    while (!signal.aborted) {
      // A batch is polled once its uploads are all done: GET settles each job still awaiting its
      // upload against the bucket (a HEAD each), so polling mid-upload would pay for jobs not sent yet.
      const active = [...open.values()].filter((b) => b.awaitingResult > 0 && b.awaitingResult === b.unresolved);
      if (active.length === 0) {
        if (!producing && open.size === 0) return;
        await changes.wait(signal);
        interval = minPollMs;
        continue;
      }
      const progressed = await Promise.all(active.map((b) => pollLimit(() => pollBatch(b))));
      interval = progressed.some(Boolean) ? minPollMs : Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
      await sleep(interval, signal).catch(() => undefined);
    }
  };

  let failure: unknown;
  const fail = (error: unknown) => {
    if (!signal.aborted) failure ??= error;
    controller.abort(error);
  };
  try {
    await recover(resumption?.pending ?? []).catch(fail);
    const polling = poll().catch(fail);
    await produce().catch(fail);
    while (uploads.size > 0) await Promise.all([...uploads]);
    producing = false;
    changes.notify();
    await polling;
  } finally {
    producing = false;
    controller.abort(new DOMException('backfill finished', 'AbortError'));
    while (uploads.size > 0) await Promise.all([...uploads]);
    // Cancels are housekeeping (never-uploaded jobs would expire anyway): wait a little, not forever.
    if (cancels.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([...cancels]), new Promise((r) => (timer = setTimeout(r, CANCEL_GRACE_MS)))]);
      clearTimeout(timer);
    }
    options.signal?.removeEventListener('abort', onOuterAbort);
    progress.stop();
    results.close();
    state.close();
  }
  if (failure) throw failure;

  const elapsedMs = Date.now() - startedAt;
  return {
    files: tally.total,
    succeeded: tally.succeeded,
    failed: tally.failed,
    skipped: tally.skipped,
    failuresByCode: { ...tally.byCode },
    previouslyDone,
    thisRun: {
      ...stats,
      elapsedMs,
      imagesPerSecond: stats.processed / Math.max(0.001, elapsedMs / 1000),
    },
    interrupted: Boolean(options.signal?.aborted),
    out,
    stateFile,
  };
}
