import type { z } from 'zod';
import { LIMITS } from '#shared/config.ts';
import type { ApiErrorCode } from '#shared/errors.ts';
import { ACCEPTED_CONTENT_TYPES } from '#shared/inference/formats.ts';
import { BatchPageQuery } from '#shared/jobs/batch-status.ts';
import { ListJobsQuery } from '#shared/jobs/list-jobs.ts';
import { CreateBatchBody, CreateJobBody } from '#shared/jobs/requests.ts';
import {
  BatchJobView,
  BatchView,
  CreatedBatch,
  CreatedBatchJob,
  CreatedJob,
  Health,
  JobError,
  JobList,
  JobResult,
  JobView,
  ModelInfo,
  ModelList,
  ResourceId,
  UploadInstructions,
  WebhookSecret,
  WebhookStatus,
} from '#shared/jobs/responses.ts';
import * as example from './openapi-examples.ts';
import type { RouteKey } from './routes.ts';

export { ERROR_EXAMPLES } from './openapi-examples.ts';

/**
 * What the OpenAPI description (openapi.ts) says about each route: one entry per route of
 * routes.ts, keyed by its RouteKey, so a route without docs does not compile. Bodies are named
 * zod schemas, path parameters come from the path template, query parameters from the zod object
 * the handler parses, and every error status from the codes the route may answer with.
 */

/** Long polls are capped so a held reply ends well within API Gateway's 30 s integration timeout. */
export const PREFER_WAIT_MAX_SECONDS = 25;

export const API_INFO = {
  title: 'Async Inference Pipeline API',
  version: '1',
  description: [
    'Create a job, PUT the image to the presigned S3 URL it returns, then poll the job (or a batch of them) until it ends.',
    'All routes but the public ones need an `x-api-key`. Every refusal is `{"error":{"code","message","details?"}}`.',
    'Replies may gain fields: clients ignore those they do not know.',
  ].join('\n\n'),
};

export const TAGS = [
  { name: 'jobs', description: 'One image, one job: create, upload, poll, cancel.' },
  { name: 'batches', description: `Up to ${LIMITS.BATCH_MAX_ITEMS} jobs in one call.` },
  { name: 'models', description: 'What this deployment serves.' },
  { name: 'webhooks', description: 'Signed deliveries of job and batch events (Standard Webhooks): the signing secret, and replays.' },
  { name: 'service', description: 'Health, this description, and the web page.' },
] as const;

/** Request bodies, as named components (converted as zod reads them). */
export const REQUEST_SCHEMAS = { CreateJobBody, CreateBatchBody };
/** Reply bodies and the parts worth a name of their own. */
export const REPLY_SCHEMAS = {
  ResourceId,
  UploadInstructions,
  JobResult,
  JobError,
  JobView,
  CreatedJob,
  BatchJobView,
  BatchView,
  CreatedBatchJob,
  CreatedBatch,
  ModelInfo,
  ModelList,
  Health,
  WebhookStatus,
  JobList,
  WebhookSecret,
};
type RequestSchemas = typeof REQUEST_SCHEMAS;
type ReplySchemas = typeof REPLY_SCHEMAS;
export type JsonSchemaName = keyof RequestSchemas | keyof ReplySchemas;

/** The names in `{…}` of a path template. */
type ParamsOf<P> = P extends `${string}{${infer Name}}${infer Rest}` ? Name | ParamsOf<Rest> : never;
type PathParameterName = ParamsOf<RouteKey>;

export const PATH_PARAMETERS: Record<PathParameterName, { description: string; schema: object; example: string }> = {
  jobId: { description: 'the jobId a create returned', schema: { $ref: '#/components/schemas/ResourceId' }, example: example.CREATED_JOB.jobId },
  batchId: { description: 'the batchId a create returned', schema: { $ref: '#/components/schemas/ResourceId' }, example: example.BATCH.batchId },
};

export const REQUEST_HEADERS = {
  'Idempotency-Key': {
    description:
      'Makes a create safe to retry: the same key (and API key) returns the same job or batch, 200 with `Idempotent-Replayed: true`, with a fresh upload URL while the upload is awaited. Reused with a different body: 422 `idempotency_mismatch`.',
    schema: { type: 'string', minLength: 1, maxLength: LIMITS.IDEMPOTENCY_KEY_MAX_LENGTH },
    example: 'backfill-2025-06-01-000042',
  },
  Prefer: {
    description: `\`wait=N\` (N ≤ ${PREFER_WAIT_MAX_SECONDS}; more is taken as ${PREFER_WAIT_MAX_SECONDS}) asks the server to hold the reply until the job or batch ends or N seconds pass (a long poll). A server that did so says \`Preference-Applied: wait=N\`; one that did not answers at once, as without the header.`,
    schema: { type: 'string', pattern: '^wait=\\d+$' },
    example: 'wait=20',
  },
} as const;
type RequestHeaderName = keyof typeof REQUEST_HEADERS;

export const RESPONSE_HEADERS = {
  'Retry-After': {
    description: 'Seconds to wait before polling again; sent while the job or batch has not ended.',
    schema: { type: 'integer', minimum: 1 },
  },
  Location: { description: 'The created (or replayed) resource, relative to the API root.', schema: { type: 'string' }, example: example.CREATED_JOB.links.self },
  'Idempotent-Replayed': { description: 'Sent (`true`) when an Idempotency-Key replay returned an existing resource.', schema: { type: 'string', const: 'true' } },
  'Preference-Applied': { description: 'Sent (`wait=N`) when the reply was held as `Prefer: wait=N` asked.', schema: { type: 'string', pattern: '^wait=\\d+$' } },
} as const;
type ResponseHeaderName = keyof typeof RESPONSE_HEADERS;

type Examples<T> = Record<string, { summary: string; value: T }>;

/** A JSON reply: its schema by name, and examples of that very type. */
type JsonReply = {
  [N in keyof ReplySchemas]: { description: string; schema: N; headers?: ResponseHeaderName[]; examples: Examples<z.input<ReplySchemas[N]>> };
}[keyof ReplySchemas];
/** A reply that is not one of the API's JSON bodies (the page, this description). */
interface RawReply {
  description: string;
  headers?: ResponseHeaderName[];
  raw: { mediaType: string; schema: object };
}
export type ReplyDoc = JsonReply | RawReply;

type RequestBodyDoc = {
  [N in keyof RequestSchemas]: { description: string; schema: N; examples: Examples<z.input<RequestSchemas[N]>> };
}[keyof RequestSchemas];

export interface RouteDoc {
  operationId: string;
  tag: (typeof TAGS)[number]['name'];
  summary: string;
  description: string;
  /** The query, as the zod object the handler parses it with: each property is one parameter. */
  query?: z.ZodObject;
  requestHeaders?: RequestHeaderName[];
  requestBody?: RequestBodyDoc;
  replies: Partial<Record<200 | 201 | 202, ReplyDoc>>;
  /** Codes the route may refuse with; 401 (authenticated routes) and 500 are added to every route. */
  errors?: ApiErrorCode[];
}

const createdHeaders: ResponseHeaderName[] = ['Location'];
const replayHeaders: ResponseHeaderName[] = ['Location', 'Idempotent-Replayed'];
const pollHeaders: ResponseHeaderName[] = ['Retry-After', 'Preference-Applied'];
const createRefusals: ApiErrorCode[] = ['bad_request', 'payload_too_large', 'unsupported_media_type', 'unknown_model', 'model_unavailable', 'idempotency_mismatch'];
const accepted = Object.keys(ACCEPTED_CONTENT_TYPES).join(', ');

export const ROUTE_DOCS: Record<RouteKey, RouteDoc> = {
  'GET /': {
    operationId: 'getPage',
    tag: 'service',
    summary: 'The web page',
    description: 'A page to submit images and watch their jobs, in a browser. It reads this description to show the API reference.',
    replies: { 200: { description: 'The page.', raw: { mediaType: 'text/html', schema: { type: 'string' } } } },
  },
  'GET /v1/health': {
    operationId: 'getHealth',
    tag: 'service',
    summary: 'Health check',
    description: 'Answers while the API function runs; needs no key.',
    replies: { 200: { description: 'Up.', schema: 'Health', examples: { ok: { summary: 'up', value: { status: 'ok' } } } } },
  },
  'GET /v1/openapi.json': {
    operationId: 'getOpenApiDescription',
    tag: 'service',
    summary: 'This description',
    description: 'The OpenAPI 3.1 description of the API, generated from the schemas the API validates with; needs no key.',
    replies: { 200: { description: 'An OpenAPI 3.1 document.', raw: { mediaType: 'application/json', schema: { type: 'object' } } } },
  },
  'GET /v1/models': {
    operationId: 'listModels',
    tag: 'models',
    summary: 'List the models',
    description: 'The models this deployment serves: `onnx/<name>` and `gemini/<preset>`, with task, runtime, whether they can run, and the params each accepts.',
    replies: { 200: { description: 'The models.', schema: 'ModelList', examples: { models: { summary: 'an ONNX model and a Gemini preset', value: example.MODELS } } } },
  },
  'POST /v1/jobs': {
    operationId: 'createJob',
    tag: 'jobs',
    summary: 'Create a job',
    description: `Creates a job awaiting its image and returns where to upload it: PUT the bytes to \`upload.url\` with exactly \`upload.headers\` (the content type and length are signed, so S3 refuses any other body) before \`upload.expiresAt\`. Accepted types: ${accepted}.`,
    requestHeaders: ['Idempotency-Key'],
    requestBody: {
      description: `\`model\` defaults to the deployment's default model; \`params\` are the model's (GET /v1/models); \`metadata\` (at most ${LIMITS.METADATA_MAX_BYTES} bytes as JSON) is kept with the job.`,
      schema: 'CreateJobBody',
      examples: {
        minimal: { summary: 'the default model', value: { contentType: 'image/jpeg', contentLength: 482133 } },
        full: { summary: 'a model, params and metadata', value: { model: 'onnx/colors', contentType: 'image/jpeg', contentLength: 482133, params: { topK: 3 }, metadata: { camera: 'north-gate' } } },
      },
    },
    replies: {
      201: { description: 'Created; upload the image next.', schema: 'CreatedJob', headers: createdHeaders, examples: { created: { summary: 'a new job', value: example.CREATED_JOB } } },
      200: {
        description: 'An Idempotency-Key replay: the job the key created (with a fresh upload URL while its upload is awaited).',
        schema: 'JobView',
        headers: replayHeaders,
        examples: { replayed: { summary: 'a replay after the upload', value: example.QUEUED_JOB } },
      },
    },
    errors: createRefusals,
  },
  'GET /v1/jobs': {
    operationId: 'listJobs',
    tag: 'jobs',
    summary: "List the owner's jobs",
    description: 'Newest first, filtered by `status`, `model` and `createdAfter`, a page of `limit` at a time (`cursor` = the last page\'s `nextCursor`).',
    query: ListJobsQuery,
    replies: { 200: { description: 'A page of jobs.', schema: 'JobList', examples: { page: { summary: 'one job, no more pages', value: { jobs: [example.SUCCEEDED_JOB] } } } } },
    errors: ['bad_request'],
  },
  'POST /v1/jobs/{jobId}/webhook/redeliver': {
    operationId: 'redeliverWebhook',
    tag: 'webhooks',
    summary: "Send a job's latest event again",
    description: "Replays the job's latest webhook event with its original `webhook-id`, re-enabling its URL if a 410 had disabled it.",
    replies: { 202: { description: 'Queued for delivery.', schema: 'JobView', examples: { pending: { summary: 'the replay is pending', value: example.SUCCEEDED_JOB } } } },
    errors: ['not_found', 'conflict'],
  },
  'GET /v1/webhooks/secret': {
    operationId: 'getWebhookSecret',
    tag: 'webhooks',
    summary: 'The webhook signing secret',
    description: "The secret every delivery is signed with (made on first use): verify `webhook-signature` with it (Standard Webhooks).",
    replies: { 200: { description: 'The secret.', schema: 'WebhookSecret', examples: { secret: { summary: 'a secret', value: example.WEBHOOK_SECRET } } } },
  },
  'POST /v1/webhooks/secret/rotate': {
    operationId: 'rotateWebhookSecret',
    tag: 'webhooks',
    summary: 'Rotate the webhook signing secret',
    description: 'A new secret signs from now on; the previous one adds a second signature for 24 hours, so receivers can switch over.',
    replies: { 200: { description: 'The new secret, and the previous one.', schema: 'WebhookSecret', examples: { rotated: { summary: 'after a rotation', value: example.ROTATED_SECRET } } } },
  },
  'GET /v1/jobs/{jobId}': {
    operationId: 'getJob',
    tag: 'jobs',
    summary: 'Poll a job',
    description:
      "The job as it stands: `awaiting_upload → queued → running → succeeded | failed`, or `canceled`, `expired`. Poll after `Retry-After` seconds while it has not ended, or ask for a long poll with `Prefer: wait=N`. Another owner's job is answered 404, as an unknown id.",
    requestHeaders: ['Prefer'],
    replies: {
      200: {
        description: 'The job; `Retry-After` while it has not ended.',
        schema: 'JobView',
        headers: pollHeaders,
        examples: {
          queued: { summary: 'waiting for a worker', value: example.QUEUED_JOB },
          succeeded: { summary: 'with its result', value: example.SUCCEEDED_JOB },
          failed: { summary: 'with why', value: example.FAILED_JOB },
        },
      },
    },
    errors: ['not_found'],
  },
  'DELETE /v1/jobs/{jobId}': {
    operationId: 'cancelJob',
    tag: 'jobs',
    summary: 'Cancel a job',
    description: 'Cancels a job that has not ended; a job that has is answered 409.',
    replies: { 200: { description: 'Canceled.', schema: 'JobView', examples: { canceled: { summary: 'canceled', value: example.CANCELED_JOB } } } },
    errors: ['not_found', 'conflict'],
  },
  'POST /v1/batches': {
    operationId: 'createBatch',
    tag: 'batches',
    summary: 'Create a batch of jobs',
    description: `Up to ${LIMITS.BATCH_MAX_ITEMS} jobs in one call, one model and params for all. Items are checked as single jobs are; one refused item refuses the batch, \`details\` naming each refused item by index.`,
    requestHeaders: ['Idempotency-Key'],
    requestBody: {
      description: 'One item per image: its content type and length, and optional metadata.',
      schema: 'CreateBatchBody',
      examples: {
        two: {
          summary: 'two images',
          value: { model: 'onnx/colors', items: [{ contentType: 'image/jpeg', contentLength: 482133 }, { contentType: 'image/png', contentLength: 90211, metadata: { file: 'b.png' } }] },
        },
      },
    },
    replies: {
      201: { description: 'Created; upload each image next.', schema: 'CreatedBatch', headers: createdHeaders, examples: { created: { summary: 'a new batch', value: example.CREATED_BATCH } } },
      200: { description: 'An Idempotency-Key replay: the batch the key created.', schema: 'CreatedBatch', headers: replayHeaders, examples: { replayed: { summary: 'a replay', value: example.CREATED_BATCH } } },
    },
    errors: createRefusals,
  },
  'GET /v1/batches/{batchId}': {
    operationId: 'getBatch',
    tag: 'batches',
    summary: 'Poll a batch',
    description: "Counts over all the batch's jobs, and one page of them (`limit`, then `cursor` = the last page's `nextCursor`). `Retry-After` while a job has not ended; `Prefer: wait=N` asks for a long poll.",
    query: BatchPageQuery,
    requestHeaders: ['Prefer'],
    replies: {
      200: { description: 'The batch.', schema: 'BatchView', headers: pollHeaders, examples: { running: { summary: 'one job done, a page of one', value: example.BATCH } } },
    },
    errors: ['bad_request', 'not_found'],
  },
};
