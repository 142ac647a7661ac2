import { createReadStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { JobView } from '../api/jobs.ts';
import type { UploadInstructions } from '../storage/presign.ts';

/**
 * The typed HTTP client of the API, for scripts (submit, backfill, smoke, benchmarks) and apps:
 * create a job, stream the file to its presigned URL, poll honouring Retry-After.
 */

export interface CreateJobInput {
  model?: string;
  contentType: string;
  contentLength: number;
  params?: Record<string, unknown>;
  metadata?: Record<string, string>;
}

export type CreatedJob = JobView & { upload: UploadInstructions };

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

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'expired']);

export interface ModelInfo {
  name: string;
  kind: string;
  description: string;
  available: boolean;
  reason?: string;
  default: boolean;
  params: Record<string, string>;
}

export class PipelineClient {
  constructor(
    readonly apiUrl: string,
    private readonly apiKey: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const response = await fetch(new URL(path, this.apiUrl), {
      method,
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

  /** The job as it stands, and how long the server asks pollers to wait (Retry-After), if it is not done. */
  async getJob(jobId: string): Promise<{ job: JobView; retryAfterMs?: number }> {
    const { body, headers } = await this.call<JobView>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
    const retryAfter = Number(headers.get('retry-after'));
    return { job: body, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
  }

  async cancelJob(jobId: string): Promise<JobView> {
    return (await this.call<JobView>('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`)).body;
  }

  async listModels(): Promise<ModelInfo[]> {
    return (await this.call<{ models: ModelInfo[] }>('GET', '/v1/models')).body.models;
  }

  /**
   * Poll until the job is terminal. Waits what Retry-After says, but starts quicker (a small job
   * is often done within the first second) and never polls faster than minIntervalMs.
   */
  async waitForJob(
    jobId: string,
    options: { timeoutMs?: number; minIntervalMs?: number; onPoll?: (job: JobView) => void } = {},
  ): Promise<JobView> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    let interval = options.minIntervalMs ?? 100;
    for (;;) {
      const { job, retryAfterMs } = await this.getJob(jobId);
      options.onPoll?.(job);
      if (TERMINAL.has(job.status)) return job;
      if (Date.now() + interval > deadline) throw new Error(`job ${jobId} is still ${job.status} after the timeout`);
      await new Promise((r) => setTimeout(r, interval));
      interval = Math.min(interval * 2, retryAfterMs ?? 1000);
    }
  }
}

/**
 * PUT a body to a presigned URL with exactly the signed headers, streaming it (never held in
 * memory whole). Resolves on 2xx; rejects with S3's error code otherwise.
 */
export function uploadToPresignedUrl(upload: UploadInstructions, body: Readable | Buffer): Promise<void> {
  const url = new URL(upload.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: upload.method, headers: upload.headers }, (res) => {
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
    if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

export function uploadFile(upload: UploadInstructions, path: string): Promise<void> {
  return uploadToPresignedUrl(upload, createReadStream(path));
}
