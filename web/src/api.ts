import type { ApiErrorBody, InferenceResult, JobView, ModelInfo, UploadInstructions } from './types.ts';

/** The API, from the browser: fetch with the key, the API's error shape, long polls, uploads with progress. */

/** How long one status request may hold (`Prefer: wait=N`, the API allows up to 25). */
export const STATUS_WAIT_SECONDS = 20;
/** Poll interval when the server names none (no Retry-After). */
const DEFAULT_POLL_MS = 1000;

/** A refusal, from the API or from S3, in words and with its code. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Headers the browser sets itself and refuses from scripts (the presigned URL still signs them). */
const FORBIDDEN_HEADERS = new Set(['content-length', 'host', 'connection']);

export class ApiClient {
  /** Cleared when a cross-origin API refuses the Prefer header in its CORS preflight; then the page polls. */
  private preferWait = true;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  private async call<T>(method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: {
        'x-api-key': this.apiKey,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: init.signal,
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw refusal(response.status, parsed, text);
    return { body: parsed as T, headers: response.headers };
  }

  async listModels(): Promise<ModelInfo[]> {
    return (await this.call<{ models: ModelInfo[] }>('GET', '/v1/models')).body.models;
  }

  async createJob(input: { model: string; contentType: string; contentLength: number; params?: Record<string, unknown>; metadata?: Record<string, string> }) {
    return (await this.call<JobView & { upload: UploadInstructions }>('POST', '/v1/jobs', { body: input })).body;
  }

  async cancelJob(jobId: string): Promise<JobView> {
    return (await this.call<JobView>('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`)).body;
  }

  /**
   * The job's state, held by the server until it changes or ends when it honours `Prefer: wait`;
   * `nextPollMs` is 0 then (ask again at once), else what Retry-After says.
   */
  async jobStatus(jobId: string, signal?: AbortSignal): Promise<{ job: JobView; nextPollMs: number }> {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}`;
    let reply: { body: JobView; headers: Headers };
    try {
      reply = await this.call<JobView>('GET', path, { signal, headers: this.preferWait ? { prefer: `wait=${STATUS_WAIT_SECONDS}` } : {} });
    } catch (error) {
      // A TypeError is a network or CORS failure: an API on another origin that does not allow the
      // Prefer header fails the preflight. Poll without it from now on.
      if (!(error instanceof TypeError) || !this.preferWait) throw error;
      this.preferWait = false;
      reply = await this.call<JobView>('GET', path, { signal });
    }
    const applied = reply.headers.get('preference-applied')?.includes('wait') ?? false;
    const retryAfter = Number(reply.headers.get('retry-after'));
    return { job: reply.body, nextPollMs: applied ? 0 : retryAfter > 0 ? retryAfter * 1000 : DEFAULT_POLL_MS };
  }

  /** A result stored in S3 (over the inline limit), through its presigned GET. */
  async fetchStoredResult(resultUrl: string): Promise<InferenceResult> {
    const response = await fetch(resultUrl);
    if (!response.ok) throw s3Refusal(response.status, await response.text());
    return (await response.json()) as InferenceResult;
  }
}

function refusal(status: number, parsed: unknown, text: string): RequestError {
  const shaped = (parsed as { error?: ApiErrorBody; message?: string } | undefined) ?? {};
  if (shaped.error?.code) return new RequestError(status, shaped.error.code, shaped.error.message, shaped.error.details);
  // API Gateway's own replies ({"message": "Forbidden"}) and anything else.
  return new RequestError(status, `http_${status}`, shaped.message ?? (text.slice(0, 200) || `HTTP ${status}`));
}

function s3Refusal(status: number, xml: string): RequestError {
  const code = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? `http_${status}`;
  const message = /<Message>([^<]+)<\/Message>/.exec(xml)?.[1] ?? `storage answered HTTP ${status}`;
  return new RequestError(status, code, message);
}

/**
 * PUT the file to its presigned URL with the signed headers, reporting progress. XMLHttpRequest,
 * because fetch has no upload progress.
 */
export function uploadFile(
  upload: UploadInstructions,
  file: Blob,
  onProgress: (fraction: number) => void,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    for (const [name, value] of Object.entries(upload.headers)) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else reject(s3Refusal(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new RequestError(0, 'upload_failed', 'the upload did not reach storage (network or CORS)'));
    xhr.onabort = () => reject(new DOMException('upload aborted', 'AbortError'));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
