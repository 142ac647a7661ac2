/**
 * The API's one route list, and what API Gateway must know about it: which routes need no key,
 * and the CORS policy. The AWS stack (infra/constructs/http-api.ts) configures API Gateway from it,
 * the local cloud's gateway applies it the same way (API Gateway answers preflights itself and
 * ignores CORS headers from the function), and the router (router.ts) attaches one handler to each
 * route: its handler table is typed by this list, so a route without a handler does not compile.
 */

export interface GatewayRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway path syntax: `{name}` is one path segment. */
  path: string;
  /** Needs an x-api-key (the authorizer runs first). */
  authenticated: boolean;
}

export const API_ROUTES = [
  { method: 'GET', path: '/', authenticated: false },
  { method: 'GET', path: '/v1/health', authenticated: false },
  { method: 'GET', path: '/v1/openapi.json', authenticated: false },
  { method: 'GET', path: '/v1/models', authenticated: true },
  { method: 'POST', path: '/v1/jobs', authenticated: true },
  { method: 'GET', path: '/v1/jobs', authenticated: true },
  { method: 'GET', path: '/v1/jobs/{jobId}', authenticated: true },
  { method: 'DELETE', path: '/v1/jobs/{jobId}', authenticated: true },
  { method: 'POST', path: '/v1/jobs/{jobId}/webhook/redeliver', authenticated: true },
  { method: 'POST', path: '/v1/batches', authenticated: true },
  { method: 'GET', path: '/v1/batches/{batchId}', authenticated: true },
  { method: 'GET', path: '/v1/webhooks/secret', authenticated: true },
  { method: 'POST', path: '/v1/webhooks/secret/rotate', authenticated: true },
] as const satisfies readonly GatewayRoute[];

/** A route as `METHOD /path`, API Gateway's route key. */
type KeyOf<R> = R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never;
export type RouteKey = KeyOf<(typeof API_ROUTES)[number]>;

export const routeKey = (route: GatewayRoute) => `${route.method} ${route.path}` as RouteKey;

/** Routes that need no API key, as `METHOD /path`. */
export const PUBLIC_ROUTES: readonly string[] = API_ROUTES.filter((r) => !r.authenticated).map(routeKey);

export const CORS_POLICY = {
  allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
  allowHeaders: ['content-type', 'x-api-key', 'authorization', 'idempotency-key', 'prefer'],
  exposeHeaders: ['retry-after', 'location', 'idempotent-replayed', 'preference-applied', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
  maxAgeSeconds: 600,
} as const;
