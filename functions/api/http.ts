import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import { type AuthContext, type Caller, callerFrom, jwtPrincipal, missingCredentials } from '#shared/auth/authenticate.ts';
import { defaultPlan } from '#shared/auth/plans.ts';
import { ApiError } from '#shared/errors.ts';
import { logger } from '#shared/logger.ts';
import { issueDetails } from '#shared/validation.ts';

/** HTTP plumbing of the API function: the event type, JSON replies, and the one error mapping. */

export type ApiEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<AuthContext>;
export type ApiResponse = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** Every refusal has this shape: {"error":{"code","message","details?"}}. */
export function errorResponse(error: unknown, requestId?: string): ApiResponse {
  if (!(error instanceof ApiError)) return internalError(error, requestId);
  try {
    return json(error.status, {
      error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) },
    });
  } catch (unserializable) {
    return internalError(unserializable, requestId);
  }
}

/** A 500 is a bug: logged with the request id, which the reply carries so a report can name it. */
function internalError(error: unknown, requestId: string | undefined): ApiResponse {
  logger.error('unhandled error', { error: error instanceof Error ? error : new Error(String(error)), requestId });
  return json(500, { error: { code: 'internal', message: 'internal error', ...(requestId ? { details: { requestId } } : {}) } });
}

/** What API Gateway's JWT authorizer (context `auth=jwt`) puts in the request context. */
interface JwtAuthorizerContext {
  jwt?: { claims?: Record<string, string | number | boolean | string[]>; scopes?: string[] | null };
}

/**
 * The caller, as the Lambda authorizer resolved it (owner, principal, plan) or, behind API
 * Gateway's own JWT authorizer, the token's `sub` with the default plan; 401 in the API's error
 * shape otherwise.
 */
export function callerOf(event: ApiEvent): Caller {
  const authorizer = event.requestContext.authorizer as (ApiEvent['requestContext']['authorizer'] & JwtAuthorizerContext) | undefined;
  const sub = authorizer?.jwt?.claims?.sub;
  if (typeof sub === 'string' && sub) return { ownerId: sub, principal: jwtPrincipal(sub), ...defaultPlan() };
  const context = authorizer?.lambda;
  if (context && 'ownerId' in context && context.ownerId) return callerFrom(context);
  const reason = context && 'authError' in context ? context.authError : missingCredentials();
  throw new ApiError('unauthorized', reason);
}

/** The caller's owner id; 401 in the API's error shape when there is none. */
export function ownerOf(event: ApiEvent): string {
  return callerOf(event).ownerId;
}

export function header(event: ApiEvent, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}

/** Schema issues a refusal lists at most (a Lambda reply is at most 6 MB). */
export const MAX_ISSUE_DETAILS = 20;

/** Parse a JSON body against a schema; 400 with the issues otherwise. */
export function parseBody<T>(event: ApiEvent, schema: z.ZodType<T>): T {
  if (!event.body) throw new ApiError('bad_request', 'request body is required (JSON)');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError('bad_request', 'request body is not valid JSON');
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    // A 10 MB body can hold a million wrong items: the reply names the first few, not all.
    const issues = issueDetails(result.error);
    const shown = issues.length > MAX_ISSUE_DETAILS ? ` (${issues.length} issues; the first ${MAX_ISSUE_DETAILS} in details)` : '';
    throw new ApiError('bad_request', `request body is invalid${shown}`, issues.slice(0, MAX_ISSUE_DETAILS));
  }
  return result.data;
}
