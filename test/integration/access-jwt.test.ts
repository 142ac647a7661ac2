import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { createApiKey } from '#shared/auth/api-keys.ts';
import { verifyJwt } from '#shared/auth/jwt.ts';
import { LOCAL_JWT, mintDevToken } from '../../scripts/local-cloud/dev-tokens.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/** Bearer JWTs on the local cloud: the local issuer's JWKS, the gateway's JWT check, the owner is `sub`. */

let t: TestCloud;
let api: string;

beforeAll(async () => {
  t = await startTestCloud();
  api = t.cloud.endpoints.apiUrl;
});
afterAll(() => t?.stop());

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(api + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const validJob = { contentType: 'image/png', contentLength: 100 };

describe('JWT callers', () => {
  it('serves the issuer key set, with which a dev token verifies', async () => {
    const jwks = (await (await fetch(`${api}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const token = await mintDevToken(t.stateDir, { sub: 'alice', scopes: ['jobs:write'] });
    expect(await verifyJwt(token, createLocalJWKSet(jwks), LOCAL_JWT)).toEqual({ identity: { sub: 'alice', scopes: ['jobs:write'] } });
  });

  it("lets a token's sub create and read its own jobs, with RateLimit headers", async () => {
    const token = await mintDevToken(t.stateDir, { sub: 'alice' });
    const created = await call('POST', '/v1/jobs', bearer(token), validJob);
    expect(created.status).toBe(201);
    expect(created.headers.get('ratelimit-limit')).not.toBeNull();
    const read = await call('GET', `/v1/jobs/${created.body.jobId}`, bearer(token));
    expect(read.status).toBe(200);
  });

  it("answers 404 for another subject's job, and for an API key's owner's job", async () => {
    const alice = await mintDevToken(t.stateDir, { sub: 'alice' });
    const bob = await mintDevToken(t.stateDir, { sub: 'bob' });
    const job = (await call('POST', '/v1/jobs', bearer(alice), validJob)).body;
    expect((await call('GET', `/v1/jobs/${job.jobId}`, bearer(bob))).status).toBe(404);
    const { key } = await createApiKey('carol', 'jwt test');
    expect((await call('GET', `/v1/jobs/${job.jobId}`, { 'x-api-key': key })).status).toBe(404);
  });

  it('makes a key and a token of the same owner see the same jobs', async () => {
    const { key } = await createApiKey('dora', 'jwt test');
    const job = (await call('POST', '/v1/jobs', { 'x-api-key': key }, validJob)).body;
    const token = await mintDevToken(t.stateDir, { sub: 'dora' });
    expect((await call('GET', `/v1/jobs/${job.jobId}`, bearer(token))).status).toBe(200);
  });

  it('refuses a token for another audience, an expired one and a forged one as API Gateway does', async () => {
    const otherAudience = await mintDevToken(t.stateDir, { sub: 'alice', audience: 'someone-else' });
    const expired = await mintDevToken(t.stateDir, { sub: 'alice', ttlSeconds: -120 });
    const genuine = await mintDevToken(t.stateDir, { sub: 'alice' });
    const [header, payload] = genuine.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'mallory' })).toString('base64url')}.${genuine.split('.')[2]}`;
    for (const token of [otherAudience, expired, forged, 'not-a-jwt']) {
      const res = await call('GET', '/v1/models', bearer(token));
      expect(res.status, token).toBe(401);
      expect(res.body).toEqual({ message: 'Unauthorized' });
    }
  });
});

describe('the Lambda authorizer with AUTH_MODE=both (one authorizer per route takes keys and tokens)', () => {
  it('accepts a key or a token, and refuses a bad token in the context', async () => {
    const { resetConfig } = await import('#shared/config.ts');
    const saved = { ...process.env };
    Object.assign(process.env, {
      AUTH_MODE: 'both',
      JWT_ISSUER: LOCAL_JWT.issuer,
      JWT_AUDIENCE: LOCAL_JWT.audience,
      JWT_JWKS_URL: `${api}/.well-known/jwks.json`,
    });
    resetConfig();
    try {
      const { handler } = await import('../../functions/authorizer/index.ts');
      const event = (headers: Record<string, string>) => ({ headers }) as Parameters<typeof handler>[0];
      const token = await mintDevToken(t.stateDir, { sub: 'erin' });
      expect((await handler(event(bearer(token)))).context).toMatchObject({ ownerId: 'erin', principal: 'jwt:erin' });
      const { key } = await createApiKey('frank', 'jwt test');
      expect((await handler(event({ 'x-api-key': key }))).context).toMatchObject({ ownerId: 'frank' });
      const other = await mintDevToken(t.stateDir, { sub: 'erin', audience: 'elsewhere' });
      expect((await handler(event(bearer(other)))).context).toEqual({ authError: 'token audience does not match' });
      expect((await handler(event({}))).context).toEqual({ authError: 'missing x-api-key header or Authorization: Bearer token' });
    } finally {
      for (const name of ['AUTH_MODE', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_JWKS_URL']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      resetConfig();
    }
  });
});
