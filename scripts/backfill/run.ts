import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { pMapIterable } from 'p-map';
import { PipelineClient } from '#shared/client/pipeline-client.ts';
import { LIMITS } from '#shared/config.ts';
import type { RetryOptions } from '#shared/retry.ts';
import type { BackfillEvent, RunContext } from './context.ts';
import { BackfillError, JournalError } from './errors.ts';
import { countPaths, type Inspection, inputKind, inspectFile, pathsOfAll } from './inputs.ts';
import { AppendLog, pathKey, readResumption, type ResultLine, type RunRecord, Tally } from './journal.ts';
import { OpenBatches } from './open-batches.ts';
import { Poller } from './poller.ts';
import { createProgress, type ProgressMode, type ProgressSnapshot } from './progress.ts';
import { recoverEarlierRuns } from './recovery.ts';
import { Submitter } from './submitter.ts';
import { type SendFile, Uploader } from './uploader.ts';

export { BackfillError, JournalError } from './errors.ts';
export type { BackfillEvent } from './context.ts';

/**
 * Backfill: push every image the inputs name through the pipeline and write one JSONL line per
 * file. Files are found lazily, created as jobs 100 at a time (submitter.ts), streamed from disk
 * to their presigned URLs with bounded concurrency (uploader.ts), and polled one batch route per
 * batch (poller.ts); a resumed run first settles what earlier runs left open (recovery.ts).
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
/** How long the end of a run waits for its job cancellations. */
const CANCEL_GRACE_MS = 5_000;

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
  /** How a file is PUT to its presigned URL (default uploadFile): tests wrap it to lose S3's replies. */
  sendFile?: SendFile;
}

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
  /** Images whose upload could not be done (the cloud was away) and that have no line: resume retries them. */
  unfinished: number;
  /** Stopped by the signal before the end: run again with resume to finish. */
  interrupted: boolean;
  out: string;
  stateFile: string;
}

/** The run cannot go on as asked (bad options, a refused key or model): retrying will not help. */
export const stateFileOf = (out: string) => `${out}.state`;

/** The options checked, defaults applied. */
function settingsOf(options: BackfillOptions) {
  const settings = {
    inputs: typeof options.inputs === 'string' ? [options.inputs] : [...options.inputs],
    out: options.out ?? BACKFILL_DEFAULTS.out,
    concurrency: options.concurrency ?? BACKFILL_DEFAULTS.concurrency,
    batchSize: options.batchSize ?? BACKFILL_DEFAULTS.batchSize,
    maxOpenBatches: options.maxOpenBatches ?? BACKFILL_DEFAULTS.maxOpenBatches,
    pollIntervalMs: options.pollIntervalMs ?? BACKFILL_DEFAULTS.pollIntervalMs,
    jobTimeoutMs: options.jobTimeoutMs ?? BACKFILL_DEFAULTS.jobTimeoutMs,
  };
  if (settings.inputs.length === 0) throw new BackfillError('no input: name a directory, a glob pattern, a list file or images');
  if (!Number.isInteger(settings.concurrency) || settings.concurrency < 1) throw new BackfillError('concurrency must be a positive integer');
  if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1 || settings.batchSize > LIMITS.BATCH_MAX_ITEMS) {
    throw new BackfillError(`batch size must be from 1 to ${LIMITS.BATCH_MAX_ITEMS}`);
  }
  return { ...settings, stateFile: stateFileOf(settings.out) };
}

export async function runBackfill(options: BackfillOptions): Promise<BackfillSummary> {
  const settings = settingsOf(options);
  const { inputs, out, stateFile } = settings;
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
  const skip = resumption?.finished ?? new Set<string>();
  // The run's own files, should they lie among its inputs, are not images to send.
  const ownFiles = new Set([pathKey(out), pathKey(stateFile)]);
  for (const own of ownFiles) skip.add(own);
  const tally = resumption?.tally ?? new Tally();
  const previouslyDone = tally.total;

  // Opened before anything is sent: a file that cannot be written stops the run with nothing to undo.
  let results: AppendLog | undefined;
  let state: AppendLog;
  try {
    results = new AppendLog(out);
    state = new AppendLog(stateFile);
    if (!previous) {
      const run: RunRecord = { t: 'run', v: 1, runId, model: options.model, params: options.params, startedAt: new Date().toISOString() };
      state.append(run);
      state.sync();
    }
  } catch (error) {
    results?.close();
    if (error instanceof JournalError) error.resumable = Boolean(previous);
    throw error;
  }
  const resultsLog = results;

  const controller = new AbortController();
  const signal = controller.signal;
  setMaxListeners(settings.concurrency + INSPECT_CONCURRENCY + 64, signal);
  const onOuterAbort = () => controller.abort(options.signal!.reason);
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const startedAt = Date.now();
  const stats = { results: 0, processed: 0 };
  const cancels = new Set<Promise<unknown>>();
  const client = new PipelineClient(options.apiUrl, options.apiKey);
  const emit = (event: BackfillEvent) => options.onEvent?.(event);
  const record = (line: ResultLine) => {
    resultsLog.append(line);
    tally.add(line);
    stats.results += 1;
    if (line.status !== 'skipped') stats.processed += 1;
    emit({ type: 'result', line });
  };
  const ctx: RunContext = {
    client,
    signal,
    state,
    open: new OpenBatches(),
    counts: { uploaded: 0, deferred: 0 },
    retrying: (what: string): RetryOptions => ({
      ...options.retry,
      signal,
      onRetry: (error, attempt, delayMs) => emit({ type: 'retry', what, attempt, delayMs, error: (error as Error)?.message ?? String(error) }),
    }),
    record,
    resolve(batch, item, outcome) {
      if (item.phase === 'resolved') return;
      record({ path: item.path, jobId: item.jobId, ...outcome });
      ctx.open.move(batch, item, 'resolved');
    },
    cancelJob(jobId) {
      const canceling = client.cancelJob(jobId).catch(() => undefined);
      cancels.add(canceling);
      void canceling.finally(() => cancels.delete(canceling));
    },
    emit,
  };

  let failure: unknown;
  const fail = (error: unknown) => {
    if (!signal.aborted) failure ??= error;
    // A file that cannot be written outranks the echoes of the stop it causes.
    if (error instanceof JournalError && !(failure instanceof JournalError)) failure = error;
    controller.abort(error);
  };
  const submitter = new Submitter(ctx, { runId, model: options.model, params: options.params, nextSeq: resumption?.nextSeq ?? 0, maxOpenBatches: settings.maxOpenBatches });
  const uploader = new Uploader(ctx, submitter, { concurrency: settings.concurrency, ...(options.sendFile ? { send: options.sendFile } : {}) }, fail);
  const poller = new Poller(ctx, { apiUrl: options.apiUrl, apiKey: options.apiKey, minIntervalMs: settings.pollIntervalMs, jobTimeoutMs: settings.jobTimeoutMs });

  let total: number | undefined;
  const progress = createProgress(options.progress ?? 'none', options.progressStream);
  progress.update(
    (): ProgressSnapshot => ({
      total,
      done: tally.total,
      succeeded: tally.succeeded,
      failed: tally.failed,
      skipped: tally.skipped,
      uploaded: ctx.counts.uploaded,
      doneThisRun: stats.results,
      startedAt,
    }),
  );
  countPaths(inputs, signal, (path) => ownFiles.has(pathKey(path))).then(
    (n) => (total = n),
    () => undefined,
  );

  /** Walk the inputs, inspect each file, and submit them batchSize at a time. */
  const produce = async () => {
    let files: Extract<Inspection, { ok: true }>[] = [];
    const submit = async () => {
      const batch = await submitter.submit(files.map((f) => ({ path: f.path, contentType: f.contentType, contentLength: f.size })));
      files = [];
      if (batch && !signal.aborted) uploader.schedule(batch);
    };
    async function* unfinished() {
      for await (const path of pathsOfAll(inputs, signal)) if (!skip.has(pathKey(path))) yield path;
    }
    try {
      for await (const found of pMapIterable(unfinished(), inspectFile, { concurrency: INSPECT_CONCURRENCY, preserveOrder: false })) {
        if (signal.aborted) break;
        if (!found.ok) {
          record({ path: found.path, status: 'skipped', error: { code: found.code, message: found.message } });
          continue;
        }
        files.push(found);
        if (files.length >= settings.batchSize) await submit();
      }
      if (files.length > 0 && !signal.aborted) await submit();
    } catch (error) {
      // Once stopping, errors are the stop's own echoes (the walk's abort, a cut request).
      if (!signal.aborted || error instanceof JournalError) throw error;
    }
  };

  let producing = true;
  try {
    if (resumption) await recoverEarlierRuns(ctx, resumption, { submitter, uploader }, skip).catch(fail);
    const polling = poller.run(() => producing).catch(fail);
    if (!signal.aborted) await produce().catch(fail);
    await uploader.drained();
    producing = false;
    ctx.open.changed();
    await polling;
  } finally {
    producing = false;
    controller.abort(new DOMException('backfill finished', 'AbortError'));
    await uploader.drained();
    // Cancels are housekeeping (never-uploaded jobs would expire anyway): wait a little, not forever.
    if (cancels.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([...cancels]), new Promise((r) => (timer = setTimeout(r, CANCEL_GRACE_MS)))]);
      clearTimeout(timer);
    }
    options.signal?.removeEventListener('abort', onOuterAbort);
    progress.stop();
    resultsLog.close();
    state.close();
  }
  if (failure) {
    // The run record is on file: whatever was done can be resumed once the cause is fixed.
    if (failure instanceof JournalError) failure.resumable = true;
    throw failure;
  }

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
      uploaded: ctx.counts.uploaded,
      elapsedMs,
      imagesPerSecond: stats.processed / Math.max(0.001, elapsedMs / 1000),
    },
    unfinished: ctx.counts.deferred,
    interrupted: Boolean(options.signal?.aborted),
    out,
    stateFile,
  };
}
