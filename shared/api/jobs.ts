import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { getConfig, LIMITS } from '../config.ts';
import { ApiError } from '../errors.ts';
import { findModel } from '../inference/catalog.ts';
import { ACCEPTED_CONTENT_TYPES, isAcceptedContentType, normalizeContentType } from '../inference/formats.ts';
import { type Job, isTerminal } from '../jobs/model.ts';
import { cancelJob, createJob, getJob, markExpired, markQueued, renewUpload } from '../jobs/store.ts';
import { JOB_ID_PATTERN } from '../storage/keys.ts';
import { uploadExists } from '../storage/objects.ts';
import { createResultUrl, createUploadUrl, type UploadInstructions } from '../storage/presign.ts';

/** The job routes' logic: create (with presigned upload), status (poll), cancel. */

/** A job still awaiting its upload this long after the URL expired is expired (an upload started just in time may still be landing). */
export const UPLOAD_EXPIRY_GRACE_SECONDS = 300;

export const CreateJobBody = z
  .object({
    model: z.string().min(1).max(200).optional(),
    contentType: z.string().min(1).max(200),
    contentLength: z.number().int().positive(),
    params: z.record(z.string(), z.unknown()).optional(),
    metadata: z
      .record(z.string().max(128), z.string().max(1024))
      .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= LIMITS.METADATA_MAX_BYTES, {
        message: `metadata must be at most ${LIMITS.METADATA_MAX_BYTES} bytes as JSON`,
      })
      .optional(),
  })
  .strict();
export type CreateJobRequest = z.infer<typeof CreateJobBody>;

/** A create request checked against this deployment: size, type, model and its params. */
export interface ValidatedJobRequest {
  model: string;
  contentType: string;
  contentLength: number;
  params?: Record<string, unknown>;
  metadata?: Record<string, string>;
}

export function validateJobRequest(body: CreateJobRequest): ValidatedJobRequest {
  const contentType = validateUpload(body.contentType, body.contentLength);
  const model = validateModel(body.model, body.params);
  return { model, contentType, contentLength: body.contentLength, params: body.params, metadata: body.metadata };
}

/** The declared upload checked against the size limit and accepted types (413, 415); returns the normalized type. */
export function validateUpload(declaredType: string, contentLength: number): string {
  const config = getConfig();
  if (contentLength > config.MAX_UPLOAD_BYTES) {
    throw new ApiError(413, 'payload_too_large', `contentLength ${contentLength} exceeds the limit of ${config.MAX_UPLOAD_BYTES} bytes`, {
      maxBytes: config.MAX_UPLOAD_BYTES,
    });
  }
  const contentType = normalizeContentType(declaredType);
  if (!isAcceptedContentType(contentType)) {
    throw new ApiError(415, 'unsupported_media_type', `contentType ${declaredType} is not accepted`, {
      accepted: Object.keys(ACCEPTED_CONTENT_TYPES),
    });
  }
  return contentType;
}

/** The model (default if none) checked as served and available (422), and its params (400); returns its name. */
export function validateModel(requested: string | undefined, params: Record<string, unknown> | undefined): string {
  const modelName = requested ?? getConfig().DEFAULT_MODEL;
  const model = findModel(modelName);
  if (!model) throw new ApiError(422, 'unknown_model', `model ${modelName} is not served here; GET /v1/models lists them`);
  if (!model.available) {
    throw new ApiError(422, 'model_unavailable', `model ${modelName} is unavailable: ${model.unavailableReason}`);
  }
  const parsed = model.params.safeParse(params ?? {});
  if (!parsed.success) {
    throw new ApiError(400, 'bad_request', `params are invalid for ${modelName}`, parsed.error.issues.map((i) => ({ path: ['params', ...i.path].join('.'), message: i.message })));
  }
  return modelName;
}

/** JSON with sorted keys, so equal requests hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** SHA-256 of a request as canonical JSON: equal requests hash equally whatever their key order. */
export function requestHashOf(request: unknown): string {
  return sha256(canonicalJson(request)).toString('hex');
}

/** A job id derived from (owner, Idempotency-Key): the same pair always names the same job. */
export function idempotentJobId(ownerId: string, idempotencyKey: string): string {
  return derivedId(ownerId, idempotencyKey);
}

/**
 * A UUID-shaped id derived from its parts. The parts are joined with newlines, which an HTTP
 * header value cannot contain, so (owner, key) and (owner, key, "batch", …) never collide.
 */
export function derivedId(...parts: string[]): string {
  const h = sha256(parts.join('\n')).toString('hex');
  // Formatted as a UUID (version nibble 8, RFC 9562 "custom") so it passes the job-id pattern.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface JobView {
  jobId: string;
  status: Job['status'];
  model: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  completedAt?: string;
  attempts: number;
  params?: Record<string, unknown>;
  metadata?: Record<string, string>;
  result?: unknown;
  resultUrl?: string;
  error?: Job['error'];
  batchId?: string;
  upload?: UploadInstructions;
  links: { self: string };
}

export const jobPath = (jobId: string) => `/v1/jobs/${jobId}`;

export async function viewOf(job: Job): Promise<JobView> {
  return {
    jobId: job.jobId,
    status: job.status,
    model: job.model,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.completedAt ? { completedAt: job.completedAt } : {}),
    attempts: job.attempts,
    ...(job.params ? { params: job.params } : {}),
    ...(job.metadata ? { metadata: job.metadata } : {}),
    ...(job.result !== undefined ? { result: job.result } : {}),
    ...(job.resultKey ? { resultUrl: await createResultUrl(job.jobId) } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.batchId ? { batchId: job.batchId } : {}),
    links: { self: jobPath(job.jobId) },
  };
}

export interface Created {
  job: JobView;
  /** False when an Idempotency-Key replay returned an existing job. */
  created: boolean;
}

export function submitJob(ownerId: string, request: ValidatedJobRequest, idempotencyKey?: string): Promise<Created> {
  return createJobWithUpload(ownerId, request, idempotencyKey ? idempotentJobId(ownerId, idempotencyKey) : randomUUID());
}

/**
 * The one way a job is created (POST /v1/jobs and each item of POST /v1/batches): presign its
 * upload and store it, unless a job with this id exists. An existing job with the same owner,
 * request and batch is a replay (a fresh upload URL while the upload is awaited); anything else
 * is a conflicting reuse of the Idempotency-Key (422).
 */
export async function createJobWithUpload(
  ownerId: string,
  request: ValidatedJobRequest,
  jobId: string,
  options: { batchId?: string } = {},
): Promise<Created> {
  const config = getConfig();
  const now = Date.now();
  const requestHash = requestHashOf(request);
  const upload = await createUploadUrl(jobId, request.contentType, request.contentLength, now);
  const stamp = new Date(now).toISOString();
  const job: Job = {
    jobId,
    ownerId,
    status: 'awaiting_upload',
    ...request,
    createdAt: stamp,
    updatedAt: stamp,
    uploadExpiresAt: upload.expiresAt,
    attempts: 0,
    requestHash,
    ...(options.batchId ? { batchId: options.batchId } : {}),
    expiresAt: Math.floor(now / 1000) + config.JOB_RETENTION_DAYS * 86_400,
  };
  const stored = await createJob(job);
  if (stored.created) return { created: true, job: { ...(await viewOf(job)), upload } };

  const existing = stored.job;
  if (existing.ownerId !== ownerId || existing.requestHash !== requestHash || existing.batchId !== options.batchId) {
    throw new ApiError(422, 'idempotency_mismatch', 'this Idempotency-Key was used with a different request', { jobId: existing.jobId });
  }
  // A replay: the same job; a fresh upload URL while the upload is still awaited.
  if (existing.status === 'awaiting_upload') {
    const renewed = (await renewUpload(existing.jobId, upload.expiresAt)) ?? existing;
    return { created: false, job: { ...(await viewOf(renewed)), upload } };
  }
  return { created: false, job: await viewOf(existing) };
}

/** The owner's job, or 404 alike for unknown ids and other owners' jobs. */
async function ownedJob(ownerId: string, jobId: string): Promise<Job> {
  const job = JOB_ID_PATTERN.test(jobId) ? await getJob(jobId) : undefined;
  if (!job || job.ownerId !== ownerId) throw new ApiError(404, 'not_found', `no job ${jobId}`);
  return job;
}

/**
 * The job as a poller should see it. A job awaiting its upload is checked against the bucket:
 * the upload landed → queued; the URL expired with nothing uploaded → expired.
 */
export async function jobStatus(ownerId: string, jobId: string, now = Date.now()): Promise<JobView> {
  const job = await settleUpload(await ownedJob(ownerId, jobId), now);
  return viewOf(job);
}

/**
 * A job awaiting its upload, checked against the bucket (the job route and the batch route alike):
 * the upload landed → queued; the URL expired with nothing uploaded → expired. Other jobs as they are.
 */
export async function settleUpload(job: Job, now = Date.now()): Promise<Job> {
  if (job.status !== 'awaiting_upload') return job;
  let settled: Job | undefined;
  if (await uploadExists(job.jobId)) settled = await markQueued(job.jobId, now);
  else if (now > Date.parse(job.uploadExpiresAt) + UPLOAD_EXPIRY_GRACE_SECONDS * 1000) settled = await markExpired(job.jobId, now);
  else return job;
  // The condition failed: a worker claimed it (or it was canceled) meanwhile.
  return settled ?? (await getJob(job.jobId)) ?? job;
}

export async function cancel(ownerId: string, jobId: string): Promise<JobView> {
  const job = await ownedJob(ownerId, jobId);
  if (isTerminal(job.status)) throw new ApiError(409, 'conflict', `job ${jobId} is already ${job.status}`);
  const canceled = await cancelJob(jobId);
  if (!canceled) {
    const latest = await ownedJob(ownerId, jobId);
    throw new ApiError(409, 'conflict', `job ${jobId} is already ${latest.status}`);
  }
  return viewOf(canceled);
}
