/**
 * The CORS policy of the HTTP API, in one place: the AWS stack configures API Gateway with it and
 * the local cloud's gateway applies it the same way (API Gateway answers preflights itself and
 * ignores CORS headers from the function).
 */
export const CORS_POLICY = {
  allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
  allowHeaders: ['content-type', 'x-api-key', 'idempotency-key'],
  exposeHeaders: ['retry-after', 'location', 'idempotent-replayed'],
  maxAgeSeconds: 600,
} as const;

/** Routes that need no API key. */
export const PUBLIC_ROUTES = ['GET /v1/health'] as const;
