import { z } from 'zod';
import { getConfig, LIMITS } from '../config.ts';
import { ApiError } from '../errors.ts';
import { findModel } from '../inference/catalog.ts';
import { ACCEPTED_CONTENT_TYPES, isAcceptedContentType, normalizeContentType } from '../inference/formats.ts';
import { type IssueDetail, issueDetails } from '../validation.ts';
import { subscriptionOf, WebhookRequest, type WebhookSubscription } from '../webhooks/events.ts';

/**
 * What a client may ask for (POST /v1/jobs and POST /v1/batches): the body schemas, then the
 * checks against this deployment (size, type, model, params) that turn a body into a request the
 * use cases trust.
 */

/** Longest metadata key and value, in characters. */
export const METADATA_KEY_MAX_LENGTH = 128;
export const METADATA_VALUE_MAX_LENGTH = 1024;

/**
 * A JSON object exactly as JSON.parse made it. z.record and z.object build a new object by
 * assignment, which silently drops a `__proto__` key (or, when it holds an object, makes it the
 * prototype); this keeps the parsed object, so every key the client sent is checked and kept.
 */
const JsonObject = z
  .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'expected an object')
  // How the OpenAPI description shows it (a custom check has no JSON Schema of its own).
  .meta({ type: 'object' });

/** Caller metadata: string values, kept key for key (`__proto__` and `constructor` included). */
const Metadata = JsonObject.superRefine((metadata, ctx) => {
  const entries = Object.entries(metadata);
  // Values first, and only the first wrong one: a value can be nested thousands deep (too deep to
  // serialize) and an object can hold a million keys; strings alone make the size check below safe.
  const notText = entries.find(([, value]) => typeof value !== 'string');
  if (notText) {
    ctx.addIssue({ code: 'custom', path: [notText[0]], message: 'a metadata value must be a string' });
    return;
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > LIMITS.METADATA_MAX_BYTES) {
    ctx.addIssue({ code: 'custom', message: `metadata must be at most ${LIMITS.METADATA_MAX_BYTES} bytes as JSON` });
    return;
  }
  for (const [key, value] of entries) {
    if (key.length > METADATA_KEY_MAX_LENGTH) {
      ctx.addIssue({ code: 'custom', path: [key], message: `a metadata key is at most ${METADATA_KEY_MAX_LENGTH} characters` });
    }
    if ((value as string).length > METADATA_VALUE_MAX_LENGTH) {
      ctx.addIssue({ code: 'custom', path: [key], message: `a metadata value is at most ${METADATA_VALUE_MAX_LENGTH} characters` });
    }
  }
})
  .meta({ type: 'object', additionalProperties: { type: 'string' }, description: 'kept with the job, key for key' }) as unknown as z.ZodType<Record<string, string>>;

export const CreateJobBody = z
  .object({
    model: z.string().min(1).max(200).optional(),
    contentType: z.string().min(1).max(200),
    contentLength: z.number().int().positive(),
    // Checked against the model's own params schema (validateModel), on the object as sent.
    params: JsonObject.optional(),
    metadata: Metadata.optional(),
    /** Where to send this job's events (default: the owner's default webhook, if any). */
    webhook: WebhookRequest.optional(),
  })
  .strict();
export type CreateJobRequest = z.infer<typeof CreateJobBody>;

const BatchItem = CreateJobBody.pick({ contentType: true, contentLength: true, metadata: true }).strict();

export const CreateBatchBody = z
  .object({
    model: CreateJobBody.shape.model,
    params: CreateJobBody.shape.params,
    // The cap is checked after parsing, to answer 413 with the limit rather than a schema issue.
    items: z.array(BatchItem).min(1, 'a batch needs at least one item'),
    /** Where to send the batch's events: batch.completed, and its jobs' job.* events if asked for. */
    webhook: CreateJobBody.shape.webhook,
  })
  .strict();
export type CreateBatchRequest = z.infer<typeof CreateBatchBody>;

/** A create request checked against this deployment: size, type, model and its params. */
export interface ValidatedJobRequest {
  model: string;
  contentType: string;
  contentLength: number;
  params?: Record<string, unknown>;
  metadata?: Record<string, string>;
  webhook?: WebhookSubscription;
}

export interface ValidatedBatchRequest {
  model: string;
  params?: Record<string, unknown>;
  items: ValidatedJobRequest[];
  webhook?: WebhookSubscription;
}

export function validateJobRequest(body: CreateJobRequest): ValidatedJobRequest {
  const contentType = validateUpload(body.contentType, body.contentLength);
  const model = validateModel(body.model, body.params);
  return {
    model,
    contentType,
    contentLength: body.contentLength,
    params: body.params,
    metadata: body.metadata,
    ...(body.webhook ? { webhook: validateWebhook(body.webhook) } : {}),
  };
}

/** A webhook URL this deployment may call (https, unless WEBHOOK_ALLOW_PRIVATE_TARGETS); its addresses are checked at each delivery. */
export function validateWebhook(request: WebhookRequest): WebhookSubscription {
  if (!getConfig().WEBHOOK_ALLOW_PRIVATE_TARGETS && !request.url.startsWith('https://')) {
    throw new ApiError('bad_request', 'webhook.url must be an https:// URL', [{ path: 'webhook.url', message: 'must use https' }]);
  }
  return subscriptionOf(request);
}

/** The declared upload checked against the size limit and accepted types (413, 415); returns the normalized type. */
export function validateUpload(declaredType: string, contentLength: number): string {
  const config = getConfig();
  if (contentLength > config.MAX_UPLOAD_BYTES) {
    throw new ApiError('payload_too_large', `contentLength ${contentLength} exceeds the limit of ${config.MAX_UPLOAD_BYTES} bytes`, {
      maxBytes: config.MAX_UPLOAD_BYTES,
    });
  }
  const contentType = normalizeContentType(declaredType);
  if (!isAcceptedContentType(contentType)) {
    throw new ApiError('unsupported_media_type', `contentType ${declaredType} is not accepted`, {
      accepted: Object.keys(ACCEPTED_CONTENT_TYPES),
    });
  }
  return contentType;
}

/** The model (default if none) checked as served and available (422), and its params (400); returns its name. */
export function validateModel(requested: string | undefined, params: Record<string, unknown> | undefined): string {
  const modelName = requested ?? getConfig().DEFAULT_MODEL;
  const model = findModel(modelName);
  if (!model) throw new ApiError('unknown_model', `model ${modelName} is not served here; GET /v1/models lists them`);
  if (!model.available) {
    throw new ApiError('model_unavailable', `model ${modelName} is unavailable: ${model.unavailableReason}`);
  }
  const parsed = model.params.safeParse(params ?? {});
  if (!parsed.success) throw new ApiError('bad_request', `params are invalid for ${modelName}`, paramIssues(parsed.error));
  return modelName;
}

/** A params refusal's details: an unknown param named by its own path (`params.__proto__`), not the object's. */
function paramIssues(error: z.ZodError): IssueDetail[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: ['params', ...issue.path.map(String), key].join('.'),
          message: 'unknown param: GET /v1/models lists each model\'s params',
        }))
      : issueDetails(new z.ZodError([issue]), ['params']),
  );
}

/**
 * A batch request checked as its jobs would be one by one. Model and params are the batch's
 * (refused once, without an index); an item refused refuses the whole batch, with every refused
 * item's index in `details`, the status and code being the first one's (413, 415).
 */
export function validateBatchRequest(body: CreateBatchRequest): ValidatedBatchRequest {
  if (body.items.length > LIMITS.BATCH_MAX_ITEMS) {
    throw new ApiError('payload_too_large', `a batch holds at most ${LIMITS.BATCH_MAX_ITEMS} items; this one has ${body.items.length}: split it`, {
      maxItems: LIMITS.BATCH_MAX_ITEMS,
      items: body.items.length,
    });
  }
  const model = validateModel(body.model, body.params);
  const refused: { index: number; error: ApiError }[] = [];
  const items: ValidatedJobRequest[] = [];
  body.items.forEach((item, index) => {
    try {
      const contentType = validateUpload(item.contentType, item.contentLength);
      items.push({ model, contentType, contentLength: item.contentLength, params: body.params, metadata: item.metadata });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refused.push({ index, error });
    }
  });
  const first = refused[0];
  if (first) {
    const more = refused.length > 1 ? ` (and ${refused.length - 1} more items refused)` : '';
    throw new ApiError(
      first.error.code,
      `items[${first.index}]: ${first.error.message}${more}`,
      refused.map(({ index, error }) => ({
        index,
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      })),
    );
  }
  return { model, ...(body.params ? { params: body.params } : {}), items, ...(body.webhook ? { webhook: validateWebhook(body.webhook) } : {}) };
}
