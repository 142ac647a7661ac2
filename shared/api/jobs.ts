import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { getConfig, LIMITS } from '../config.ts';
import { ApiError } from '../errors.ts';
import { findModel } from '../inference/catalog.ts';
import { isAcceptedContentType, normalizeContentType } from '../inference/formats.ts';
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
  const config = getConfig();
  if (body.contentLength > config.MAX_UPLOAD_BYTES) {
    throw new ApiError(413, 'payload_too_large', `contentLength ${body.contentLength} exceeds the limit of ${config.MAX_UPLOAD_BYTES} bytes`, {
      maxBytes: config.MAX_UPLOAD_BYTES,
    });
  }
  const contentType = normalizeContentType(body.contentType);
  if (!isAcceptedContentType(contentType)) {
    throw new ApiError(415, 'unsupported_media_type', `contentType ${body.contentType} is not accepted`, {
      accepted: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif'],
    });
  }
  const modelName = body.model ?? config.DEFAULT_MODEL;
  const model = findModel(modelName);
  if (!model) throw new ApiError(422, 'unknown_model', `model ${modelName} is not served here; GET /v1/models lists them`);
  if (!model.available) {
    throw new ApiError(422, 'model_unavailable', `model ${modelName} is unavailable: ${model.unavailableReason}`);
  }
  const params = model.params.safeParse(body.params ?? {});
  if (!params.success) {
    throw new ApiError(400, 'bad_request', `params are invalid for ${modelName}`, params.error.issues.map((i) => ({ path: ['params', ...i.path].join('.'), message: i.message })));
  }
  return { model: modelName, contentType, contentLength: body.contentLength, params: body.params, metadata: body.metadata };
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

/** A job id derived from (owner, Idempotency-Key): the same pair always names the same job. */
export function idempotentJobId(ownerId: string, idempotencyKey: string): string {
  const h = sha256(`${ownerId}\n${idempotencyKey}`).toString('hex');
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
    links: { self: jobPath(job.jobId) },
  };
}

export interface Created {
  job: JobView;
  /** False when an Idempotency-Key replay returned an existing job. */
  created: boolean;
}

export async function submitJob(ownerId: string, request: ValidatedJobRequest, idempotencyKey?: string): Promise<Created> {
  const config = getConfig();
  const now = Date.now();
  const requestHash = sha256(canonicalJson(request)).toString('hex');
  const jobId = idempotencyKey ? idempotentJobId(ownerId, idempotencyKey) : randomUUID();
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
    expiresAt: Math.floor(now / 1000) + config.JOB_RETENTION_DAYS * 86_400,
  };
  const stored = await createJob(job);
  if (stored.created) return { created: true, job: { ...(await viewOf(job)), upload } };

  const existing = stored.job;
  if (existing.ownerId !== ownerId || existing.requestHash !== requestHash) {
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
  let job = await ownedJob(ownerId, jobId);
  if (job.status === 'awaiting_upload') {
    if (await uploadExists(jobId)) {
      job = (await markQueued(jobId, now)) ?? (await ownedJob(ownerId, jobId));
    } else if (now > Date.parse(job.uploadExpiresAt) + UPLOAD_EXPIRY_GRACE_SECONDS * 1000) {
      job = (await markExpired(jobId, now)) ?? (await ownedJob(ownerId, jobId));
    }
  }
  return viewOf(job);
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
