import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent } from '#functions/api/http.ts';
import { API_ROUTES, PUBLIC_ROUTES } from '#functions/api/routes.ts';
import { buildPage } from '../../scripts/build-web.ts';

/** API Gateway is configured from API_ROUTES: the router must serve each of them, and nothing else. */

let routeRequest: (event: ApiEvent) => Promise<{ statusCode?: number; body?: string }>;

beforeAll(async () => {
  // Credentials only sign (the page's CSP names the upload host by presigning a URL); nothing is sent.
  Object.assign(process.env, { TABLE_NAME: 'unused', BUCKET_NAME: 'unused', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'unused', AWS_SECRET_ACCESS_KEY: 'unused' });
  // GET / serves the built page.
  await buildPage();
  ({ routeRequest } = await import('#functions/api/router.ts'));
});

function event(method: string, path: string): ApiEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: { http: { method, path }, requestId: 'test' } as ApiEvent['requestContext'],
  } as ApiEvent;
}

const concrete = (path: string) => path.replace(/\{\w+\}/g, '00000000-0000-4000-8000-000000000000');

describe('the gateway contract', () => {
  it.each(API_ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('the router serves %s', async (_name, route) => {
    const response = await routeRequest(event(route.method, concrete(route.path)));
    // Authenticated routes refuse a caller without an owner before doing anything else.
    expect(response.statusCode).toBe(route.authenticated ? 401 : 200);
  });

  it('lists the page, health and the OpenAPI description as the only public routes', () => {
    expect([...PUBLIC_ROUTES].sort()).toEqual(['GET /', 'GET /v1/health', 'GET /v1/openapi.json']);
  });

  it('answers a path outside the contract with 404 in the error shape', async () => {
    const response = await routeRequest(event('GET', '/v1/unknown'));
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body!).error.code).toBe('not_found');
  });
});
