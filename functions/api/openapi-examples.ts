import type { ApiErrorCode } from '#shared/errors.ts';
import type { BatchView, CreatedBatch, CreatedJob, JobView, ModelList } from '#shared/jobs/responses.ts';

/**
 * Example replies for the OpenAPI description, typed by the reply schemas (so they compile only
 * while they have the reply's shape) and validated against the generated document in
 * test/unit/openapi.test.ts.
 */

const JOB_ID = '3f6c1b2e-8a4d-4c1e-9b7a-2d5e6f708192';
const BATCH_ID = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const CREATED_AT = '2025-06-01T12:00:00.000Z';
const PRESIGNED_QUERY =
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA...%2F20250601%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20250601T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Signature=5f0c...';

const upload = (jobId: string) => ({
  url: `https://pipeline-uploads.s3.eu-west-1.amazonaws.com/uploads/${jobId}?${PRESIGNED_QUERY}`,
  method: 'PUT' as const,
  headers: { 'content-type': 'image/jpeg', 'content-length': '482133' },
  expiresAt: '2025-06-01T12:15:00.000Z',
});

export const CREATED_JOB: CreatedJob = {
  jobId: JOB_ID,
  status: 'awaiting_upload',
  model: 'onnx/colors',
  createdAt: CREATED_AT,
  updatedAt: CREATED_AT,
  attempts: 0,
  params: { topK: 3 },
  metadata: { camera: 'north-gate' },
  upload: upload(JOB_ID),
  links: { self: `/v1/jobs/${JOB_ID}` },
};

export const QUEUED_JOB: JobView = {
  jobId: JOB_ID,
  status: 'queued',
  model: 'onnx/colors',
  createdAt: CREATED_AT,
  updatedAt: '2025-06-01T12:00:02.114Z',
  attempts: 0,
  params: { topK: 3 },
  links: { self: `/v1/jobs/${JOB_ID}` },
};

export const SUCCEEDED_JOB: JobView = {
  ...QUEUED_JOB,
  status: 'succeeded',
  updatedAt: '2025-06-01T12:00:02.611Z',
  startedAt: '2025-06-01T12:00:02.301Z',
  completedAt: '2025-06-01T12:00:02.611Z',
  attempts: 1,
  result: {
    kind: 'classification',
    model: 'onnx/colors',
    labels: [
      { label: 'green', score: 0.91 },
      { label: 'blue', score: 0.06 },
      { label: 'white', score: 0.01 },
    ],
    image: { format: 'jpeg', width: 1024, height: 768 },
    timings: { preprocessMs: 38.2, inferenceMs: 4.1 },
  },
};

export const FAILED_JOB: JobView = {
  ...QUEUED_JOB,
  status: 'failed',
  updatedAt: '2025-06-01T12:00:02.480Z',
  startedAt: '2025-06-01T12:00:02.301Z',
  completedAt: '2025-06-01T12:00:02.480Z',
  attempts: 1,
  error: { code: 'corrupt_image', message: 'the image could not be decoded' },
};

export const CANCELED_JOB: JobView = {
  ...QUEUED_JOB,
  status: 'canceled',
  updatedAt: '2025-06-01T12:00:05.000Z',
  completedAt: '2025-06-01T12:00:05.000Z',
  error: { code: 'canceled', message: 'canceled by its owner' },
};

export const CREATED_BATCH: CreatedBatch = {
  batchId: BATCH_ID,
  model: 'onnx/colors',
  total: 2,
  jobs: [
    { jobId: JOB_ID, status: 'awaiting_upload', upload: upload(JOB_ID) },
    { jobId: '5b2e7c90-1d3f-4e6a-8b9c-a0b1c2d3e4f5', status: 'awaiting_upload', upload: upload('5b2e7c90-1d3f-4e6a-8b9c-a0b1c2d3e4f5') },
  ],
  links: { self: `/v1/batches/${BATCH_ID}` },
};

export const BATCH: BatchView = {
  batchId: BATCH_ID,
  model: 'onnx/colors',
  createdAt: CREATED_AT,
  total: 2,
  counts: { awaiting_upload: 0, queued: 1, running: 0, succeeded: 1, failed: 0, canceled: 0, expired: 0 },
  done: false,
  jobs: [{ index: 0, ...SUCCEEDED_JOB, batchId: BATCH_ID }],
  nextCursor: 'eyJvIjoxfQ',
  links: { self: `/v1/batches/${BATCH_ID}` },
};

export const MODELS: ModelList = {
  models: [
    {
      name: 'onnx/colors',
      kind: 'onnx',
      runtime: 'onnx',
      task: 'classification',
      description: 'Dominant colour of an image (demo model)',
      available: true,
      default: true,
      params: { topK: 'how many labels to return, best first (1–100; default from the manifest)' },
    },
    {
      name: 'gemini/describe',
      kind: 'gemini',
      runtime: 'gemini',
      task: 'analysis',
      description: 'A short description of the image, with its objects',
      available: false,
      reason: 'no Gemini API key is configured',
      default: false,
      params: { speed: 'fast | balanced | accurate: which Gemini model answers' },
    },
  ],
};

/** One refusal of each code (message and details), for the error responses' examples. */
export const ERROR_EXAMPLES: Record<ApiErrorCode, { message: string; details?: unknown }> = {
  bad_request: { message: 'request body is invalid', details: [{ path: 'contentLength', message: 'Too small: expected number to be >0' }] },
  unauthorized: { message: 'missing x-api-key header' },
  not_found: { message: `no job ${JOB_ID}` },
  method_not_allowed: { message: 'PUT is not allowed on /v1/jobs', details: { allowed: ['POST'] } },
  conflict: { message: `job ${JOB_ID} is already succeeded` },
  payload_too_large: { message: 'contentLength 80000000 exceeds the limit of 52428800 bytes', details: { maxBytes: 52428800 } },
  unsupported_media_type: { message: 'contentType image/bmp is not accepted', details: { accepted: ['image/jpeg', 'image/png', 'image/webp'] } },
  unknown_model: { message: 'model onnx/nope is not served here; GET /v1/models lists them' },
  model_unavailable: { message: 'model gemini/describe is unavailable: no Gemini API key is configured' },
  idempotency_mismatch: { message: 'this Idempotency-Key was used with a different request', details: { jobId: JOB_ID } },
  internal: { message: 'internal error', details: { requestId: 'c0ffee00-0000-4000-8000-000000000000' } },
  rate_limited: { message: 'over the rate limit of 10 requests a second (burst 5): retry after 1 s' },
  quota_exceeded: { message: 'the quota of 100 requests a day is used up', details: { resetsAt: '2025-06-02T00:00:00.000Z' } },
};

export const WEBHOOK_SECRET = { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: CREATED_AT };
export const ROTATED_SECRET = {
  secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
  createdAt: '2025-06-02T09:30:00.000Z',
  previous: { secret: WEBHOOK_SECRET.secret, expiresAt: '2025-06-03T09:30:00.000Z' },
};
