import { ApiError } from '../errors.ts';
import { ensureCatalog, getCatalog } from '../inference/catalog.ts';
import { getConfig, LIMITS } from '../config.ts';
import { type ApiEvent, type ApiResponse, errorResponse, header, json, ownerOf, parseBody } from './http.ts';
import { cancel, CreateJobBody, jobPath, jobStatus, submitJob, validateJobRequest } from './jobs.ts';
import { batchPath, batchStatus, CreateBatchBody, submitBatch, validateBatchRequest } from './batches.ts';
import { isTerminal } from '../jobs/model.ts';
import { logger } from '../logger.ts';

/** The HTTP API v1: a small route table over method and path; each route a few lines. */

type Route = { method: string; pattern: RegExp; handle: (event: ApiEvent, params: string[]) => Promise<ApiResponse> };

/** The optional Idempotency-Key header, bounded (POST /v1/jobs and POST /v1/batches). */
function idempotencyKeyOf(event: ApiEvent): string | undefined {
  const key = header(event, 'idempotency-key');
  if (key !== undefined && (key.length < 1 || key.length > LIMITS.IDEMPOTENCY_KEY_MAX_LENGTH)) {
    throw new ApiError(400, 'bad_request', `Idempotency-Key must be 1 to ${LIMITS.IDEMPOTENCY_KEY_MAX_LENGTH} characters`);
  }
  return key;
}

/** 201 for a new resource, 200 for an Idempotency-Key replay of it. */
function createdReply(created: boolean, body: unknown, location: string): ApiResponse {
  return json(created ? 201 : 200, body, { location, ...(created ? {} : { 'idempotent-replayed': 'true' }) });
}

/** A status a client polls: Retry-After until it is done. */
function pollReply(body: unknown, done: boolean): ApiResponse {
  return json(200, body, done ? {} : { 'retry-after': String(getConfig().POLL_INTERVAL_SECONDS) });
}

const routes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/health$/,
    handle: async () => json(200, { status: 'ok' }),
  },
  {
    method: 'GET',
    pattern: /^\/v1\/models$/,
    handle: async (event) => {
      ownerOf(event);
      const models = [...getCatalog().values()].map((m) => ({
        name: m.name,
        kind: m.kind,
        description: m.description,
        available: m.available,
        ...(m.unavailableReason ? { reason: m.unavailableReason } : {}),
        default: m.name === getConfig().DEFAULT_MODEL,
        params: m.paramsDoc,
      }));
      return json(200, { models });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/jobs$/,
    handle: async (event) => {
      const ownerId = ownerOf(event);
      const idempotencyKey = idempotencyKeyOf(event);
      const request = validateJobRequest(parseBody(event, CreateJobBody));
      const { job, created } = await submitJob(ownerId, request, idempotencyKey);
      logger.info(created ? 'job created' : 'job replayed', { jobId: job.jobId, model: job.model, ownerId });
      return createdReply(created, job, jobPath(job.jobId));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/jobs\/([^/]+)$/,
    handle: async (event, [jobId]) => {
      const view = await jobStatus(ownerOf(event), jobId!);
      return pollReply(view, isTerminal(view.status));
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/jobs\/([^/]+)$/,
    handle: async (event, [jobId]) => json(200, await cancel(ownerOf(event), jobId!)),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/batches$/,
    handle: async (event) => {
      const ownerId = ownerOf(event);
      const idempotencyKey = idempotencyKeyOf(event);
      const request = validateBatchRequest(parseBody(event, CreateBatchBody));
      const { batch, created } = await submitBatch(ownerId, request, idempotencyKey);
      logger.info(created ? 'batch created' : 'batch replayed', { batchId: batch.batchId, jobs: batch.total, model: batch.model, ownerId });
      return createdReply(created, batch, batchPath(batch.batchId));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/batches\/([^/]+)$/,
    handle: async (event, [batchId]) => {
      const query = event.queryStringParameters ?? {};
      const view = await batchStatus(ownerOf(event), batchId!, { limit: query.limit, cursor: query.cursor });
      return pollReply(view, view.done);
    },
  },
];

export async function routeRequest(event: ApiEvent): Promise<ApiResponse> {
  try {
    // Health answers even when the bucket's models cannot be listed.
    if (event.rawPath !== '/v1/health') await ensureCatalog();
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath.replace(/\/+$/, '') || '/';
    const matching = routes.filter((r) => r.pattern.test(path));
    if (matching.length === 0) throw new ApiError(404, 'not_found', `no route for ${path}`);
    const route = matching.find((r) => r.method === method);
    if (!route) {
      throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`, {
        allowed: matching.map((r) => r.method),
      });
    }
    const params = route.pattern.exec(path)!.slice(1).map(decodeURIComponent);
    return await route.handle(event, params);
  } catch (error) {
    return errorResponse(error, event.requestContext.requestId);
  }
}
