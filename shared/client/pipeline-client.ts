import { createReadStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { CreateBatchBody, CreateJobBody } from '../jobs/requests.ts';
import { TERMINAL_STATUSES } from '../jobs/model.ts';
import type { BatchView, CreatedBatch, CreatedJob, JobList, JobView, ModelInfo, ModelList, WebhookSecret } from '../jobs/responses.ts';
import type { UploadInstructions } from '../storage/presign.ts';

/**
 * The typed HTTP client of the API, for scripts (submit, backfill, smoke, benchmarks) and apps:
 * create a job, stream the file to its presigned URL, poll honouring Retry-After.
 */

// Requests and replies are typed by the schemas the API validates with and documents (no second copy).
/** The body of POST /v1/jobs. */
export type CreateJobInput = z.input<typeof CreateJobBody>;
/** The body of POST /v1/batches. */
export type CreateBatchInput = z.input<typeof CreateBatchBody>;
export type { BatchView, CreatedBatch, CreatedJob, JobList, JobView, ModelInfo, WebhookSecret } from '../jobs/responses.ts';
/** For webhook receivers: check a delivery's signature and timestamp (Standard Webhooks), get its payload. */
export { verifyWebhook, WebhookVerificationError } from '../webhooks/signing.ts';

/** A refusal from the API, in its error shape. */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** A refusal from S3 (presigned upload). */
export class UploadError extends Error {
  override readonly name = 'UploadError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TERMINAL = new Set<string>(TERMINAL_STATUSES);
/** How long one long poll asks the server to hold (the API's limit is 25 s). */
export const LONG_POLL_SECONDS = 20;

/** An upload connection silent this long (nothing sent or received) is cut, as ETIMEDOUT: a retry may pass. */
export const UPLOAD_IDLE_TIMEOUT_MS = 60_000;

export class PipelineClient {
  constructor(
    readonly apiUrl: string,
    private readonly apiKey: string,
  ) {}

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const response = await fetch(new URL(path, this.apiUrl), {
      method,
      ...(signal ? { signal } : {}),
      headers: { 'x-api-key': this.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown }; message?: string } | undefined) ?? {};
      throw new ApiRequestError(
        response.status,
        error.error?.code ?? `http_${response.status}`,
        error.error?.message ?? error.message ?? (text.slice(0, 200) || response.statusText),
        error.error?.details,
      );
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  async createJob(input: CreateJobInput, options: { idempotencyKey?: string } = {}): Promise<CreatedJob> {
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    return (await this.call<CreatedJob>('POST', '/v1/jobs', input, headers)).body;
  }

  /**
   * The job as it stands, and how long the server asks pollers to wait (Retry-After), if it is not
   * done. With `waitSeconds` (≤ 25) the server holds the reply until the job has ended or the time
   * is up (`Prefer: wait=N`); `waited` says whether it did.
   */
  async getJob(jobId: string, options: { waitSeconds?: number } = {}): Promise<{ job: JobView; retryAfterMs?: number; waited: boolean }> {
    const headers: Record<string, string> = options.waitSeconds ? { prefer: `wait=${options.waitSeconds}` } : {};
    const { body, headers: replyHeaders } = await this.call<JobView>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`, undefined, headers);
    const retryAfter = Number(replyHeaders.get('retry-after'));
    return { job: body, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}), waited: replyHeaders.has('preference-applied') };
  }

  /** A page of the caller's jobs, newest first. */
  async listJobs(query: { status?: string; model?: string; createdAfter?: string; limit?: number; cursor?: string } = {}): Promise<JobList> {
    const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)] as [string, string]));
    return (await this.call<JobList>('GET', `/v1/jobs${search.size ? `?${search}` : ''}`)).body;
  }

  /** The secret webhook deliveries are signed with (for verifyWebhook). */
  async webhookSecret(): Promise<WebhookSecret> {
    return (await this.call<WebhookSecret>('GET', '/v1/webhooks/secret')).body;
  }

  /** A new signing secret; the previous one keeps signing (a second signature) for a day. */
  async rotateWebhookSecret(): Promise<WebhookSecret> {
    return (await this.call<WebhookSecret>('POST', '/v1/webhooks/secret/rotate')).body;
  }

  /** Send a job's latest webhook event again. */
  async redeliverWebhook(jobId: string): Promise<JobView> {
    return (await this.call<JobView>('POST', `/v1/jobs/${encodeURIComponent(jobId)}/webhook/redeliver`)).body;
  }

  async cancelJob(jobId: string): Promise<JobView> {
    return (await this.call<JobView>('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`)).body;
  }

  /**
   * Create up to 100 jobs in one call. With an Idempotency-Key, repeating the call returns the same
   * batch (`replayed`), creating whatever a failed attempt left out and fresh upload URLs for jobs still awaiting theirs.
   */
  async createBatch(input: CreateBatchInput, options: { idempotencyKey?: string } = {}): Promise<{ batch: CreatedBatch; replayed: boolean }> {
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    const { status, body } = await this.call<CreatedBatch>('POST', '/v1/batches', input, headers);
    return { batch: body, replayed: status === 200 };
  }

  /**
   * One page of a batch's jobs with counts over all of them, and the poll interval the server asks
   * for while it is not done. With `waitSeconds` the server holds the reply until the batch is done
   * or the time is up (`waited` says whether it did).
   */
  async getBatch(
    batchId: string,
    page: { limit?: number; cursor?: string } = {},
    options: { waitSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<{ batch: BatchView; retryAfterMs?: number; waited: boolean }> {
    const query = new URLSearchParams();
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    if (page.cursor !== undefined) query.set('cursor', page.cursor);
    const search = query.size ? `?${query}` : '';
    const prefer: Record<string, string> = options.waitSeconds ? { prefer: `wait=${options.waitSeconds}` } : {};
    const { body, headers } = await this.call<BatchView>('GET', `/v1/batches/${encodeURIComponent(batchId)}${search}`, undefined, prefer, options.signal);
    const retryAfter = Number(headers.get('retry-after'));
    return { batch: body, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}), waited: headers.has('preference-applied') };
  }

  async listModels(): Promise<ModelInfo[]> {
    return (await this.call<ModelList>('GET', '/v1/models')).body.models;
  }

  /**
   * Wait until the job is terminal: long polls (`Prefer: wait`), so a job costs a handful of
   * requests, not one a second; against a server that does not hold replies, polls as Retry-After
   * says, starting quicker (a small job is often done within the first second) and never faster
   * than minIntervalMs.
   */
  async waitForJob(
    jobId: string,
    options: { timeoutMs?: number; minIntervalMs?: number; onPoll?: (job: JobView) => void } = {},
  ): Promise<JobView> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    let interval = options.minIntervalMs ?? 50;
    for (;;) {
      const left = Math.floor((deadline - Date.now()) / 1000);
      const { job, retryAfterMs, waited } = await this.getJob(jobId, { waitSeconds: Math.max(0, Math.min(LONG_POLL_SECONDS, left)) });
      options.onPoll?.(job);
      if (TERMINAL.has(job.status)) return job;
      if (Date.now() + interval > deadline) throw new Error(`job ${jobId} is still ${job.status} after the timeout`);
      if (waited) continue;
      await new Promise((r) => setTimeout(r, interval));
      interval = Math.min(interval * 1.5, retryAfterMs ?? 1000);
    }
  }
}

/**
 * PUT a body to a presigned URL with exactly the signed headers, streaming it (never held in
 * memory whole). Resolves on 2xx; rejects with S3's error code otherwise.
 */
export function uploadToPresignedUrl(upload: UploadInstructions, body: Readable | Buffer, options: { signal?: AbortSignal } = {}): Promise<void> {
  const url = new URL(upload.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: upload.method, headers: upload.headers, signal: options.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode && res.statusCode < 300) return resolve();
        const xml = Buffer.concat(chunks).toString('utf8');
        const code = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? `http_${res.statusCode}`;
        const message = /<Message>([^<]+)<\/Message>/.exec(xml)?.[1] ?? xml.slice(0, 200);
        reject(new UploadError(res.statusCode ?? 0, code, message));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(UPLOAD_IDLE_TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error(`upload stalled: nothing for ${UPLOAD_IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })),
    );
    if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

export function uploadFile(upload: UploadInstructions, path: string, options: { signal?: AbortSignal } = {}): Promise<void> {
  const body = createReadStream(path);
  return uploadToPresignedUrl(upload, body, options).finally(() => body.destroy());
}
