import { closeSync, createReadStream, existsSync, fsyncSync, ftruncateSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { JournalError } from './errors.ts';

/**
 * The backfill's two append-only files. The results file (JSONL, one line per image) is the
 * output; the state file beside it (`<out>.state`) records what was sent, so a run stopped at any
 * point (Ctrl-C, a crash, a kill) can be resumed without uploading anything twice:
 *
 *   {"t":"run", runId, model, params, startedAt}                         first line, once
 *   {"t":"submit", seq, key, items:[{path, contentType, contentLength}]}  before each POST /v1/batches
 *   {"t":"batch", seq, key, batchId, items:[{path, jobId, contentType, contentLength}]}   after it
 *   {"t":"up", jobId}                                                     after each upload S3 accepted
 *
 * Each line is written whole with one synchronous write call (looping over short writes), and the
 * file is fsynced at batch boundaries. A line cut short by a crash is dropped on resume; because a
 * batch's Idempotency-Key is on record before the batch is requested, losing the batch line to a
 * crash loses nothing: resume posts the same request with the same key and gets the same batch back.
 */

export interface RunRecord {
  t: 'run';
  v: 1;
  runId: string;
  model?: string;
  params?: Record<string, unknown>;
  startedAt: string;
}

/** A file as sent in a batch request. */
export interface SubmitItemRecord {
  path: string;
  contentType: string;
  contentLength: number;
}

export interface BatchItemRecord extends SubmitItemRecord {
  jobId: string;
}

/** Written (and synced) before the POST: whatever happens next, resume knows the key to replay. */
export interface SubmitRecord {
  t: 'submit';
  seq: number;
  key: string;
  items: SubmitItemRecord[];
}

export interface BatchRecord {
  t: 'batch';
  seq: number;
  /** The Idempotency-Key the batch was created with: replaying the request returns it again. */
  key: string;
  batchId: string;
  items: BatchItemRecord[];
}

export interface UploadedRecord {
  t: 'up';
  jobId: string;
}

export type StateRecord = RunRecord | SubmitRecord | BatchRecord | UploadedRecord;

/** Client-side reasons an image got no job, beside the API's and the worker's failure codes. */
export type ClientErrorCode =
  | 'not_an_image'
  | 'empty_file'
  | 'unreadable'
  | 'upload_failed'
  | 'client_timeout'
  | (string & {});

/** One line of the results file. */
export interface ResultLine {
  path: string;
  jobId?: string;
  /** succeeded; failed (the worker, the upload or the API refused it); skipped (not sent: not an image, empty, unreadable). */
  status: 'succeeded' | 'failed' | 'skipped';
  result?: unknown;
  /** Only when a large result could not be fetched: its presigned URL, valid for a while. */
  resultUrl?: string;
  error?: { code: string; message: string };
}

/**
 * A file opened for appending whole lines. Any failure to open or write it (ENOSPC, EACCES, EROFS…)
 * is a JournalError naming the file; after one, the log refuses further lines, so nothing is ever
 * appended behind a line the failure cut short.
 */
export class AppendLog {
  readonly #fd: number;
  #broken: JournalError | undefined;

  constructor(readonly path: string) {
    try {
      dropPartialLastLine(path);
      this.#fd = openSync(path, 'a');
    } catch (error) {
      throw JournalError.from(path, error);
    }
  }

  append(record: object): void {
    if (this.#broken) throw this.#broken;
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      for (let written = 0; written < line.length; ) written += writeSync(this.#fd, line, written, line.length - written);
    } catch (error) {
      this.#broken = JournalError.from(this.path, error);
      throw this.#broken;
    }
  }

  /** Make what was appended durable (at batch boundaries: a power cut then loses at most the lines since). */
  sync(): void {
    if (this.#broken) throw this.#broken;
    try {
      fsyncSync(this.#fd);
    } catch (error) {
      this.#broken = JournalError.from(this.path, error);
      throw this.#broken;
    }
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Everything was written synchronously; a close error (EIO on some network file systems) adds nothing.
    }
  }
}

/** A line cut short by a crash would corrupt the next one appended: cut it off. */
function dropPartialLastLine(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(64 * 1024);
    // Look back from the end for the last newline.
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      const read = readSync(fd, chunk, 0, end - start, start);
      const at = chunk.subarray(0, read).lastIndexOf(0x0a);
      if (at >= 0) {
        if (start + at + 1 < size) ftruncateSync(fd, start + at + 1);
        return;
      }
      end = start;
    }
    if (size > 0) ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
}

async function* jsonLines<T>(path: string): AsyncGenerator<T> {
  if (!existsSync(path)) return;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line) as T;
    } catch {
      // a line cut short by a crash (only ever the last one)
    }
  }
}

/** Tallies of result lines: by status, and failures by error code. */
export class Tally {
  succeeded = 0;
  failed = 0;
  skipped = 0;
  readonly byCode: Record<string, number> = {};

  add(line: Pick<ResultLine, 'status' | 'error'>): void {
    this[line.status] += 1;
    if (line.status !== 'succeeded') {
      const code = line.error?.code ?? 'unknown';
      this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    }
  }

  get total(): number {
    return this.succeeded + this.failed + this.skipped;
  }
}

/** A job of an earlier run that was sent but has no result line yet. */
export interface PendingItem extends BatchItemRecord {
  /** The state file says S3 accepted its upload. */
  uploaded: boolean;
}

export interface PendingBatch {
  batchId: string;
  seq: number;
  key: string;
  /** Every item of the batch request, in order: replaying it (same key, same body) renews upload URLs. */
  request: SubmitItemRecord[];
  /** The items still without a result line. */
  items: PendingItem[];
}

export interface Resumption {
  run?: RunRecord;
  /** Absolute paths that have a result line: not to be sent again. */
  finished: Set<string>;
  tally: Tally;
  /** Batches with items still waiting for a result. */
  pending: PendingBatch[];
  /** Batch requests on record whose outcome is not (the run stopped, or its batch line was cut): replay them. */
  unconfirmed: SubmitRecord[];
  nextSeq: number;
}

/** Identity of a path across runs (a relative path given from another folder is the same file). */
export const pathKey = (path: string) => resolve(path);

/**
 * Read back what earlier runs did: the results (streamed, tallied, kept as a set of finished
 * paths) and the state (batches kept only while some of their items lack a result).
 */
export async function readResumption(resultsPath: string, statePath: string): Promise<Resumption> {
  const finished = new Set<string>();
  const tally = new Tally();
  for await (const line of jsonLines<ResultLine>(resultsPath)) {
    finished.add(pathKey(line.path));
    tally.add(line);
  }

  let run: RunRecord | undefined;
  let nextSeq = 0;
  const batches = new Map<string, PendingBatch>();
  const byJob = new Map<string, PendingItem>();
  // Submits not yet followed by their batch line, and the paths they hold (few: one per open batch).
  const submits = new Map<number, SubmitRecord>();
  const submitOfPath = new Map<string, number>();
  const forget = (seq: number) => {
    for (const item of submits.get(seq)?.items ?? []) submitOfPath.delete(pathKey(item.path));
    submits.delete(seq);
  };
  for await (const record of jsonLines<StateRecord>(statePath)) {
    if (record.t === 'run') run ??= record;
    else if (record.t === 'submit') {
      nextSeq = Math.max(nextSeq, record.seq + 1);
      submits.set(record.seq, record);
      for (const item of record.items) submitOfPath.set(pathKey(item.path), record.seq);
    } else if (record.t === 'batch') {
      nextSeq = Math.max(nextSeq, record.seq + 1);
      // This batch settles its own submit, and any earlier submit of these files (one the API refused items of).
      forget(record.seq);
      for (const item of record.items) {
        const seq = submitOfPath.get(pathKey(item.path));
        if (seq !== undefined) forget(seq);
      }
      const items = record.items.filter((i) => !finished.has(pathKey(i.path))).map((i) => ({ ...i, uploaded: false }));
      if (items.length === 0) continue;
      const request = record.items.map(({ path, contentType, contentLength }) => ({ path, contentType, contentLength }));
      batches.set(record.batchId, { batchId: record.batchId, seq: record.seq, key: record.key, request, items });
      for (const item of items) byJob.set(item.jobId, item);
    } else if (record.t === 'up') {
      const item = byJob.get(record.jobId);
      if (item) item.uploaded = true;
    }
  }
  // A submit some of whose files have results since (the API refused them and they were written skipped) was settled.
  const unconfirmed = [...submits.values()].filter((s) => !s.items.some((i) => finished.has(pathKey(i.path))));
  return { run, finished, tally, pending: [...batches.values()], unconfirmed, nextSeq };
}
