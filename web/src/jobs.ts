import { type ApiClient, RequestError, uploadFile } from './api.ts';
import { type InferenceResult, type JobView, TERMINAL_STATUSES } from './types.ts';

/**
 * Each dropped file as a job: create it, upload the bytes, follow its state to the end. Runs a few
 * at a time, so long polls and uploads never take all of the browser's connections to one host.
 */

/** Files in flight at once (create → upload → follow). Browsers open about 6 connections per host. */
export const FILES_IN_FLIGHT = 4;

/**
 * What the page shows for a file: the API's job status once there is a job, or a step before it.
 * `refused`: the API or S3 said no (the error says why); `error`: the page lost contact.
 */
export type FileState = 'waiting' | 'creating' | 'uploading' | JobView['status'] | 'refused' | 'error';

export const STATE_ORDER: readonly FileState[] = [
  'waiting', 'creating', 'uploading', 'awaiting_upload', 'queued', 'running', 'succeeded', 'failed', 'refused', 'error', 'canceled', 'expired',
];

export interface FileJob {
  key: number;
  file: File;
  /** The file's path inside a dropped folder, or its name. */
  name: string;
  imageUrl: string;
  model: string;
  params?: Record<string, unknown>;
  state: FileState;
  uploadProgress: number;
  job?: JobView;
  result?: InferenceResult;
  error?: { code: string; message: string };
  /** Set while something (upload, long poll) can be interrupted; cancel aborts it. */
  abort?: AbortController;
  cancelRequested: boolean;
}

export const isFinished = (job: FileJob) => job.state === 'refused' || job.state === 'error' || TERMINAL_STATUSES.has(job.state);

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const errorOf = (error: unknown) =>
  error instanceof RequestError ? { code: error.code, message: error.message } : { code: 'network_error', message: error instanceof Error ? error.message : String(error) };

export class JobRunner {
  readonly jobs: FileJob[] = [];
  private nextKey = 1;
  private running = 0;

  constructor(
    private readonly api: () => ApiClient,
    private readonly onChange: (job: FileJob) => void,
  ) {}

  add(files: { file: File; name: string }[], model: string, params?: Record<string, unknown>): FileJob[] {
    const added = files.map(({ file, name }) => ({
      key: this.nextKey++,
      file,
      name,
      imageUrl: URL.createObjectURL(file),
      model,
      params,
      state: 'waiting' as FileState,
      uploadProgress: 0,
      cancelRequested: false,
    }));
    this.jobs.push(...added);
    for (const job of added) this.onChange(job);
    this.pump();
    return added;
  }

  private pump(): void {
    while (this.running < FILES_IN_FLIGHT) {
      const next = this.jobs.find((j) => j.state === 'waiting');
      if (!next) return;
      this.running++;
      next.state = 'creating';
      // process() reports every failure on the job itself; finally only frees the slot.
      void this.process(next).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private update(job: FileJob, change: Partial<FileJob>): void {
    Object.assign(job, change);
    this.onChange(job);
  }

  private async process(job: FileJob): Promise<void> {
    try {
      this.update(job, {});
      const created = await this.api().createJob({
        model: job.model,
        // Browsers leave the type empty for extensions they do not know; the API then says what it accepts.
        contentType: job.file.type || 'application/octet-stream',
        contentLength: job.file.size,
        ...(job.params ? { params: job.params } : {}),
        metadata: { filename: job.name.slice(-1024) },
      });
      if (job.cancelRequested) return await this.cancelOnServer(job, created);
      job.abort = new AbortController();
      this.update(job, { job: created, state: 'uploading' });
      await uploadFile(created.upload, job.file, (fraction) => this.update(job, { uploadProgress: fraction }), job.abort.signal);
      await this.follow(job);
    } catch (error) {
      if (job.cancelRequested) return;
      const state: FileState = error instanceof RequestError && error.status > 0 ? 'refused' : 'error';
      this.update(job, { state, error: errorOf(error) });
    } finally {
      job.abort = undefined;
    }
  }

  /** Follow the job until it ends: long polls when the API holds them, Retry-After otherwise. */
  private async follow(job: FileJob): Promise<void> {
    for (;;) {
      const abort = (job.abort = new AbortController());
      const { job: view, nextPollMs } = await this.api().jobStatus(job.job!.jobId, abort.signal);
      if (job.cancelRequested) return;
      await this.show(job, view);
      if (TERMINAL_STATUSES.has(view.status)) return;
      if (nextPollMs > 0) await wait(nextPollMs, abort.signal);
      if (job.cancelRequested) return;
    }
  }

  private async show(job: FileJob, view: JobView): Promise<void> {
    let result = view.result;
    if (!result && view.resultUrl) result = await this.api().fetchStoredResult(view.resultUrl);
    this.update(job, { job: view, state: view.status, result, error: view.error });
  }

  /** Cancel: stop what the page is doing for the file and, if the API has a job for it, cancel that. */
  async cancel(job: FileJob): Promise<void> {
    if (isFinished(job) || job.cancelRequested) return;
    job.cancelRequested = true;
    job.abort?.abort();
    if (job.state === 'waiting') return this.update(job, { state: 'canceled', error: { code: 'canceled', message: 'canceled before it was sent' } });
    // Still being created: process() cancels it on the server as soon as the job exists.
    if (job.job) await this.cancelOnServer(job, job.job);
  }

  private async cancelOnServer(job: FileJob, view: JobView): Promise<void> {
    try {
      await this.show(job, await this.api().cancelJob(view.jobId));
    } catch (error) {
      // 409: it ended meanwhile; show how.
      if (error instanceof RequestError && error.status === 409) {
        await this.show(job, (await this.api().jobStatus(view.jobId)).job);
      } else this.update(job, { state: 'error', error: errorOf(error) });
    }
  }

  counts(): Map<FileState, number> {
    const counts = new Map<FileState, number>();
    for (const job of this.jobs) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
    return counts;
  }

  /** One JSON line per file: what a backfill's --out file holds, for the files dropped here. */
  toJsonLines(): string {
    return this.jobs
      .map((j) =>
        JSON.stringify({
          file: j.name,
          jobId: j.job?.jobId,
          model: j.model,
          status: j.state,
          ...(j.result ? { result: j.result } : {}),
          ...(j.error ? { error: j.error } : {}),
        }),
      )
      .join('\n')
      .concat('\n');
  }

  clearFinished(): void {
    for (let i = this.jobs.length - 1; i >= 0; i--) {
      const job = this.jobs[i]!;
      if (isFinished(job)) {
        URL.revokeObjectURL(job.imageUrl);
        this.jobs.splice(i, 1);
      }
    }
  }
}
