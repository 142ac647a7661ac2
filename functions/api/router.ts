import { getConfig, LIMITS } from '#shared/config.ts';
import { ApiError } from '#shared/errors.ts';
import { ensureCatalog, getCatalog } from '#shared/inference/catalog.ts';
import { batchStatus } from '#shared/jobs/batch-status.ts';
import { submitBatch } from '#shared/jobs/create-batch.ts';
import { submitJob } from '#shared/jobs/create-job.ts';
import { cancel, jobStatus } from '#shared/jobs/job-status.ts';
import { isTerminal } from '#shared/jobs/model.ts';
import { CreateBatchBody, CreateJobBody, validateBatchRequest, validateJobRequest } from '#shared/jobs/requests.ts';
import { batchPath, jobPath } from '#shared/jobs/views.ts';
import { listJobs, parseListQuery } from '#shared/jobs/list-jobs.ts';
import { MAX_WAIT_SECONDS } from '#shared/jobs/waiting.ts';
import { logger } from '#shared/logger.ts';
import { ensureSecret, type OwnerSettings, rotateSecret } from '#shared/webhooks/owners.ts';
import { redeliver } from '#shared/webhooks/redeliver.ts';
import { type ApiEvent, type ApiResponse, errorResponse, header, json, ownerOf, parseBody } from './http.ts';
import { admit, withHeaders } from './limits.ts';
import { openApiDocument } from './openapi.ts';
import { pageReply } from './page.ts';
import { API_ROUTES, PUBLIC_ROUTES, type RouteKey, routeKey } from './routes.ts';

/** The HTTP API v1: one handler per route of routes.ts, each a few lines over the use cases in shared/jobs. */

type Handler = (event: ApiEvent, params: Record<string, string>) => Promise<ApiResponse>;

/** The optional Idempotency-Key header, bounded (POST /v1/jobs and POST /v1/batches). */
function idempotencyKeyOf(event: ApiEvent): string | undefined {
  const key = header(event, 'idempotency-key');
  if (key !== undefined && (key.length < 1 || key.length > LIMITS.IDEMPOTENCY_KEY_MAX_LENGTH)) {
    throw new ApiError('bad_request', `Idempotency-Key must be 1 to ${LIMITS.IDEMPOTENCY_KEY_MAX_LENGTH} characters`);
  }
  return key;
}

/** 201 for a new resource, 200 for an Idempotency-Key replay of it. */
function createdReply(created: boolean, body: unknown, location: string): ApiResponse {
  return json(created ? 201 : 200, body, { location, ...(created ? {} : { 'idempotent-replayed': 'true' }) });
}

/** `Prefer: wait=N` (RFC 7240): how long the client will wait for a status to become final, at most MAX_WAIT_SECONDS. */
function preferredWait(event: ApiEvent): number {
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header(event, 'prefer') ?? '');
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : 0;
}

/** A status a client polls: Retry-After until it is done; Preference-Applied when the reply was held for Prefer: wait. */
function pollReply(body: unknown, done: boolean, waited: number): ApiResponse {
  return json(200, body, {
    ...(done ? {} : { 'retry-after': String(getConfig().POLL_INTERVAL_SECONDS) }),
    ...(waited > 0 ? { 'preference-applied': `wait=${waited}` } : {}),
  });
}

/** The owner's webhook signing secrets: the current one, and the previous one while it still signs. */
function secretReply(settings: OwnerSettings): ApiResponse {
  const [current, previous] = settings.secrets;
  return json(200, {
    secret: current!.secret,
    createdAt: current!.createdAt,
    ...(previous?.expiresAt && Date.parse(previous.expiresAt) > Date.now() ? { previous: { secret: previous.secret, expiresAt: previous.expiresAt } } : {}),
  });
}

const handlers: Record<RouteKey, Handler> = {
  'GET /': (event) => pageReply(event),

  'GET /v1/health': async () => json(200, { status: 'ok' }),

  'GET /v1/openapi.json': async () => json(200, openApiDocument()),

  'GET /v1/models': async (event) => {
    ownerOf(event);
    const models = [...getCatalog().values()].map((m) => ({
      name: m.name,
      kind: m.runtime,
      runtime: m.runtime,
      task: m.task,
      description: m.description,
      available: m.available,
      ...(m.unavailableReason ? { reason: m.unavailableReason } : {}),
      default: m.name === getConfig().DEFAULT_MODEL,
      params: m.paramsDoc,
    }));
    return json(200, { models });
  },

  'POST /v1/jobs': async (event) => {
    const ownerId = ownerOf(event);
    const idempotencyKey = idempotencyKeyOf(event);
    const request = validateJobRequest(parseBody(event, CreateJobBody));
    const { job, created } = await submitJob(ownerId, request, idempotencyKey);
    logger.info(created ? 'job created' : 'job replayed', { jobId: job.jobId, model: job.model, ownerId });
    return createdReply(created, job, jobPath(job.jobId));
  },

  'GET /v1/jobs': async (event) => json(200, await listJobs(ownerOf(event), parseListQuery(event.queryStringParameters ?? {}))),

  'GET /v1/jobs/{jobId}': async (event, { jobId }) => {
    const ownerId = ownerOf(event);
    const wait = preferredWait(event);
    const view = await jobStatus(ownerId, jobId!, wait);
    return pollReply(view, isTerminal(view.status), wait);
  },

  'POST /v1/jobs/{jobId}/webhook/redeliver': async (event, { jobId }) => json(202, await redeliver(ownerOf(event), jobId!)),

  'GET /v1/webhooks/secret': async (event) => secretReply(await ensureSecret(ownerOf(event))),

  'POST /v1/webhooks/secret/rotate': async (event) => secretReply(await rotateSecret(ownerOf(event))),

  'DELETE /v1/jobs/{jobId}': async (event, { jobId }) => json(200, await cancel(ownerOf(event), jobId!)),

  'POST /v1/batches': async (event) => {
    const ownerId = ownerOf(event);
    const idempotencyKey = idempotencyKeyOf(event);
    const request = validateBatchRequest(parseBody(event, CreateBatchBody));
    const { batch, created } = await submitBatch(ownerId, request, idempotencyKey);
    logger.info(created ? 'batch created' : 'batch replayed', { batchId: batch.batchId, jobs: batch.total, model: batch.model, ownerId });
    return createdReply(created, batch, batchPath(batch.batchId));
  },

  'GET /v1/batches/{batchId}': async (event, { batchId }) => {
    const ownerId = ownerOf(event);
    const query = event.queryStringParameters ?? {};
    const wait = preferredWait(event);
    const view = await batchStatus(ownerId, batchId!, { limit: query.limit, cursor: query.cursor }, wait);
    return pollReply(view, view.done, wait);
  },
};

/** Each route's path template as a pattern; `{name}` is one path segment. */
const table = API_ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  const key = routeKey(route);
  return { method: route.method as string, pattern: new RegExp(`^${source}$`), names, key, authenticated: route.authenticated as boolean, handle: handlers[key] };
});

/** A path segment as sent, percent-decoded; one that does not decode names nothing here (404). */
function decodeSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('not_found', `no route for ${path}: a path segment is not valid percent-encoding`);
  }
}

export async function routeRequest(event: ApiEvent): Promise<ApiResponse> {
  try {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath.replace(/\/+$/, '') || '/';
    // Public routes (health, the page) answer even when the bucket's models cannot be listed.
    if (!PUBLIC_ROUTES.includes(`${method} ${path}`)) await ensureCatalog();
    const matching = table.filter((r) => r.pattern.test(path));
    if (matching.length === 0) throw new ApiError('not_found', `no route for ${path}`);
    const route = matching.find((r) => r.method === method);
    if (!route) {
      throw new ApiError('method_not_allowed', `${method} is not allowed on ${path}`, { allowed: matching.map((r) => r.method) });
    }
    const values = route.pattern.exec(path)!.slice(1);
    const params = Object.fromEntries(route.names.map((name, i) => [name, decodeSegment(values[i]!, path)]));
    if (!route.authenticated) return await route.handle(event, params);
    // A malformed header is refused at the edge, uncharged; then the caller's plan is charged
    // before any work, and every reply carries its RateLimit-* headers.
    idempotencyKeyOf(event);
    const admission = await admit(event, route.key);
    if (!admission.admitted) return admission.refusal;
    const reply = await route.handle(event, params).catch((error: unknown) => errorResponse(error, event.requestContext.requestId));
    return withHeaders(reply, admission.headers);
  } catch (error) {
    return errorResponse(error, event.requestContext?.requestId);
  }
}
