import { z } from 'zod';
import { API_ERROR_STATUS, type ApiErrorCode, FAILURE_CODES } from '../errors.ts';
import { ACCEPTED_CONTENT_TYPES } from '../inference/formats.ts';
import type { InferenceResult, Runtime, Task } from '../inference/types.ts';
import { JOB_ID_PATTERN } from '../storage/keys.ts';
import type { UploadInstructions as PresignedUpload } from '../storage/presign.ts';
import { JOB_STATUSES, type JobError as StoredJobError } from './model.ts';
import { WEBHOOK_EVENTS } from '../webhooks/events.ts';
import type { StoredEmbeddingResult } from '../inference/tasks/embedding/index.ts';

/**
 * What the API answers, as zod schemas: the TypeScript types of the replies (JobView, BatchView…)
 * are inferred from them, and the OpenAPI description (functions/api/openapi.ts) is generated from
 * them, so the types, the document and the replies cannot drift apart. The document is checked
 * against real replies in test/integration/openapi.test.ts.
 */

/** Job and batch ids: UUIDs, random or derived from an Idempotency-Key. */
export const ResourceId = z.string().regex(JOB_ID_PATTERN);
const Timestamp = z.iso.datetime().describe('ISO 8601, UTC');
const Links = z.object({ self: z.string().describe('this resource, relative to the API root') });

export const UploadInstructions = z
  .object({
    url: z.url().describe('presigned S3 URL; PUT the image bytes here'),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()).describe('send exactly these headers: content-type and content-length are part of the signature'),
    expiresAt: Timestamp.describe('the URL stops working after this instant; a job never uploaded then expires'),
  })
  .describe('How to upload the image: straight to S3, not through the API.');

const Score = z.number().min(0).max(1);
const ImageInfo = z.object({ format: z.enum(Object.values(ACCEPTED_CONTENT_TYPES)), width: z.int(), height: z.int() });
const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }).describe('original-image pixels: top-left corner and size');
const OnnxTimings = z.object({ preprocessMs: z.number(), inferenceMs: z.number() });

const ClassificationResult = z.object({
  kind: z.literal('classification'),
  model: z.string(),
  labels: z.array(z.object({ label: z.string(), score: Score })).describe('best first'),
  image: ImageInfo,
  timings: OnnxTimings,
});
const DetectionResult = z.object({
  kind: z.literal('detection'),
  model: z.string(),
  image: ImageInfo,
  objects: z.array(z.object({ label: z.string(), score: Score, box: Box })).describe('best first'),
  timings: OnnxTimings.extend({ postprocessMs: z.number() }),
});
const EmbeddingResult = z.object({
  kind: z.literal('embedding'),
  model: z.string(),
  dimensions: z.int().positive(),
  image: ImageInfo,
  timings: OnnxTimings,
  vector: z.array(z.number()).optional().describe('the embedding itself, when it fits in the result …'),
  vectorUrl: z.url().optional().describe('… or where to GET it (presigned) when it does not'),
});
const Point = z.tuple([z.number(), z.number()]);
const OcrResult = z.object({
  kind: z.literal('ocr'),
  model: z.string(),
  image: ImageInfo.describe('the image as a viewer shows it (after EXIF orientation)'),
  lines: z
    .array(
      z.object({
        text: z.string(),
        confidence: Score.describe("mean probability of the line's characters"),
        box: z.tuple([Point, Point, Point, Point]).describe("the line's corners in image pixels [x, y], clockwise from the text's top-left"),
      }),
    )
    .describe('in reading order'),
  text: z.string().describe('the lines joined by newlines'),
  timings: z.object({ decodeMs: z.number(), detectMs: z.number(), classifyMs: z.number(), recognizeMs: z.number(), totalMs: z.number() }),
});
const AnalysisResult = z.object({
  kind: z.literal('analysis'),
  model: z.string().describe('gemini/<preset>'),
  data: z.unknown().describe("the answer, shaped by the preset's response schema"),
  usage: z.object({ promptTokens: z.int(), outputTokens: z.int(), thinkingTokens: z.int().optional(), totalTokens: z.int() }),
  modelVersion: z.string().optional().describe('the Gemini model that answered'),
});

/** A succeeded job's result, by the model's task (`kind`). */
export const JobResult = z
  .discriminatedUnion('kind', [ClassificationResult, DetectionResult, EmbeddingResult, OcrResult, AnalysisResult])
  .describe('The result, by task; each names its model. A result over ~300 KB is not inline: see resultUrl.');
export type JobResult = z.infer<typeof JobResult>;

export const JobError = z.object({
  code: z.enum([...FAILURE_CODES, 'upload_expired', 'canceled']),
  message: z.string(),
});

/** Where a job's webhook stands (jobs created with one, or under an owner with a default webhook). */
export const WebhookStatus = z
  .object({
    url: z.url(),
    events: z.array(z.enum(WEBHOOK_EVENTS)),
    status: z.enum(['idle', 'pending', 'delivered', 'failing', 'failed', 'disabled']),
    attempts: z.int().min(0).describe('attempts at the event being delivered'),
    lastStatus: z.int().optional().describe("the receiver's last HTTP status"),
    lastError: z.string().optional(),
    nextAttemptAt: Timestamp.optional().describe('while failing: when the next attempt is due'),
  })
  .describe("How delivery of the job's events to its webhook stands.");

export const JobView = z
  .object({
    jobId: ResourceId,
    status: z.enum(JOB_STATUSES),
    model: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    startedAt: Timestamp.optional(),
    completedAt: Timestamp.optional(),
    attempts: z.int().min(0).describe('how many times a worker has taken the job'),
    params: z.record(z.string(), z.unknown()).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    result: JobResult.optional(),
    resultUrl: z.url().optional().describe('presigned GET of a result too large to be inline'),
    error: JobError.optional().describe('why a failed, expired or canceled job has no result'),
    batchId: ResourceId.optional(),
    webhook: WebhookStatus.optional(),
    upload: UploadInstructions.optional().describe('while the job awaits its upload, in replies that create (or replay) it'),
    links: Links,
  })
  .describe('A job as its owner sees it.');
export type JobView = z.infer<typeof JobView>;

/** GET /v1/jobs: a page of the owner's jobs, newest first. */
export const JobList = z
  .object({ jobs: z.array(JobView), nextCursor: z.string().optional().describe('pass as `cursor` for the next page; absent on the last') })
  .describe("A page of the owner's jobs, newest first.");
export type JobList = z.infer<typeof JobList>;

/** The owner's webhook signing secret(s). */
export const WebhookSecret = z
  .object({
    secret: z.string().regex(/^whsec_/).describe('signs every delivery (Standard Webhooks)'),
    createdAt: Timestamp,
    previous: z.object({ secret: z.string(), expiresAt: Timestamp }).optional().describe('after a rotation: still signs (a second signature) until expiresAt'),
  })
  .describe("The owner's webhook signing secret.");
export type WebhookSecret = z.infer<typeof WebhookSecret>;

/** The reply that creates a job (201): the job, and where to upload its image. */
export const CreatedJob = JobView.extend({ upload: UploadInstructions });
export type CreatedJob = z.infer<typeof CreatedJob>;

export const BatchJobView = JobView.extend({ index: z.int().min(0).describe("the job's place in the creating request's items") });
export type BatchJobView = z.infer<typeof BatchJobView>;

const Count = z.int().min(0);
/** Jobs by status: every status named (an object, not a record, so each is a documented property). */
const StatusCounts = z
  .object(Object.fromEntries(JOB_STATUSES.map((status) => [status, Count])) as Record<(typeof JOB_STATUSES)[number], typeof Count>)
  .describe("jobs by status, over all the batch's jobs");

export const BatchView = z
  .object({
    batchId: ResourceId,
    model: z.string(),
    createdAt: Timestamp,
    total: z.int().min(1),
    counts: StatusCounts,
    done: z.boolean().describe('every job has ended (succeeded, failed, canceled or expired)'),
    jobs: z.array(BatchJobView).describe('one page of the jobs, in request order'),
    nextCursor: z.string().optional().describe('pass as `cursor` for the next page; absent on the last'),
    links: Links,
  })
  .describe('A batch: counts over all its jobs, and one page of them.');
export type BatchView = z.infer<typeof BatchView>;

export const CreatedBatchJob = z.object({
  jobId: ResourceId,
  status: z.enum(JOB_STATUSES),
  upload: UploadInstructions.optional().describe('present while the job awaits its upload (always, for a new batch)'),
});
export type CreatedBatchJob = z.infer<typeof CreatedBatchJob>;

export const CreatedBatch = z
  .object({ batchId: ResourceId, model: z.string(), total: z.int().min(1), jobs: z.array(CreatedBatchJob).describe('in request order'), links: Links })
  .describe('The reply that creates a batch: its jobs, and where to upload each image.');
export type CreatedBatch = z.infer<typeof CreatedBatch>;

const RUNTIMES = ['onnx', 'gemini'] as const satisfies readonly Runtime[];
const TASKS = ['classification', 'detection', 'embedding', 'ocr', 'analysis'] as const satisfies readonly Task[];

export const ModelInfo = z.object({
  name: z.string().describe('what `model` names in POST /v1/jobs: onnx/<name> or gemini/<preset>'),
  kind: z.enum(RUNTIMES).describe('the runtime (kept for older clients)'),
  runtime: z.enum(RUNTIMES),
  task: z.enum(TASKS),
  description: z.string(),
  available: z.boolean(),
  reason: z.string().optional().describe('why an unavailable model cannot run'),
  default: z.boolean().describe('used when a job names no model'),
  params: z.record(z.string(), z.string()).describe('the params it accepts, each with what it does'),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const ModelList = z.object({ models: z.array(ModelInfo) }).describe('The models this deployment serves.');
export type ModelList = z.infer<typeof ModelList>;

export const Health = z.object({ status: z.literal('ok') });
export type Health = z.infer<typeof Health>;

const API_ERROR_CODES = Object.keys(API_ERROR_STATUS) as [ApiErrorCode, ...ApiErrorCode[]];

/** The error shape, its code one of `codes` (all of them by default). */
export function apiErrorBody(codes: readonly ApiErrorCode[] = API_ERROR_CODES) {
  return z
    .object({
      error: z.object({
        code: z.enum(codes as [ApiErrorCode, ...ApiErrorCode[]]),
        message: z.string().describe('for people; may change'),
        details: z.unknown().optional().describe('for programs: the invalid fields, the limit passed, the refused items…'),
      }),
    })
    .describe('Every refusal has this shape; `code` is stable, `message` is not.');
}
export const ApiErrorBody = apiErrorBody();
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

/** The codes answered with this HTTP status (API_ERROR_STATUS, the one map). */
export const errorCodesOf = (status: number): ApiErrorCode[] => API_ERROR_CODES.filter((code) => API_ERROR_STATUS[code] === status);

// The schemas must describe what the code produces: these fail to compile when a type they mirror
// changes (a new job error code, runtime, task or result kind) until the schema says so too.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const mirrors: [
  Same<z.infer<typeof JobError>, StoredJobError>,
  Same<z.infer<typeof UploadInstructions>, PresignedUpload>,
  Same<(typeof RUNTIMES)[number], Runtime>,
  Same<(typeof TASKS)[number], Task>,
  // A stored embedding (vectorKey) is shown as its vectorUrl (views.ts).
  Exclude<InferenceResult, StoredEmbeddingResult> extends JobResult ? true : false,
] = [true, true, true, true, true];
void mirrors;
