/**
 * What API Gateway must know about the API, in one place: its routes, which need no key, and the
 * CORS policy. The AWS stack (infra/constructs/http-api.ts) configures API Gateway from it and the
 * local cloud's gateway applies it the same way (API Gateway answers preflights itself and ignores
 * CORS headers from the function). test/unit/gateway-contract.test.ts checks the router serves
 * every route listed here.
 */

export interface GatewayRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway path syntax: `{name}` is one path segment. */
  path: string;
  /** Needs an x-api-key (the authorizer runs first). */
  authenticated: boolean;
}

export const API_ROUTES: readonly GatewayRoute[] = [
  { method: 'GET', path: '/v1/health', authenticated: false },
  { method: 'GET', path: '/v1/models', authenticated: true },
  { method: 'POST', path: '/v1/jobs', authenticated: true },
  { method: 'GET', path: '/v1/jobs/{jobId}', authenticated: true },
  { method: 'DELETE', path: '/v1/jobs/{jobId}', authenticated: true },
  { method: 'POST', path: '/v1/batches', authenticated: true },
  { method: 'GET', path: '/v1/batches/{batchId}', authenticated: true },
];

/** Routes that need no API key, as `METHOD /path`. */
export const PUBLIC_ROUTES: readonly string[] = API_ROUTES.filter((r) => !r.authenticated).map((r) => `${r.method} ${r.path}`);

export const CORS_POLICY = {
  allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
  allowHeaders: ['content-type', 'x-api-key', 'idempotency-key'],
  exposeHeaders: ['retry-after', 'location', 'idempotent-replayed'],
  maxAgeSeconds: 600,
} as const;
