import { getConfig } from '../config.ts';
import { findKeyGrant, hashApiKey } from './api-keys.ts';
import { bearerToken, configuredJwt, verifyJwt } from './jwt.ts';
import { defaultPlan, type Plan } from './plans.ts';

/**
 * Who is calling: an API key (x-api-key) or, when AUTH_MODE allows, a Bearer JWT, turned into the
 * owner, the principal its limits are counted under and its plan — or why not. The plan travels
 * flat, as a Lambda authorizer's context carries only plain values. Key lookups are cached in
 * memory, as API Gateway's authorizer cache would, without its identity-source rule.
 */

export type Caller = { ownerId: string; principal: string } & Plan;
/** The Lambda authorizer's context. Principal and plan may be absent (an older authorizer, a hand-made event): see callerFrom. */
export type AuthContext = ({ ownerId: string } & Partial<Omit<Caller, 'ownerId'>>) | { authError: string };

/** A context's caller, with the owner as principal and the default plan where it says none. */
export function callerFrom(context: { ownerId: string } & Partial<Omit<Caller, 'ownerId'>>): Caller {
  const plan = defaultPlan();
  return {
    ownerId: context.ownerId,
    principal: context.principal ?? `owner:${context.ownerId}`,
    rate: context.rate ?? plan.rate,
    burst: context.burst ?? plan.burst,
    quota: context.quota ?? plan.quota,
    quotaPeriod: context.quotaPeriod ?? plan.quotaPeriod,
  };
}

export interface Credentials {
  apiKey?: string;
  authorization?: string;
}

/** How long a key lookup is trusted; a revoked key (or a changed plan) takes effect within this time. */
export const AUTH_CACHE_TTL_MS = 60_000;
/** Unknown keys are remembered briefly only, so a key just created works at once. */
export const AUTH_NEGATIVE_CACHE_TTL_MS = 2_000;
const AUTH_CACHE_SIZE = 10_000;

const cache = new Map<string, { context: AuthContext; until: number }>();

/** The principal limits are counted under: a key by its hash, a token by its subject. */
export const keyPrincipal = (keyHash: string) => `apikey:${keyHash}`;
export const jwtPrincipal = (sub: string) => `jwt:${sub}`;

export function missingCredentials(): string {
  return getConfig().AUTH_MODE === 'apiKey' ? 'missing x-api-key header' : 'missing x-api-key header or Authorization: Bearer token';
}

export async function authenticate(credentials: Credentials, now = Date.now()): Promise<AuthContext> {
  const mode = getConfig().AUTH_MODE;
  const token = bearerToken(credentials.authorization);
  if (credentials.apiKey && mode !== 'jwt') return authenticateKey(credentials.apiKey, now);
  if (token && mode !== 'apiKey') return authenticateToken(token);
  return { authError: missingCredentials() };
}

async function authenticateKey(apiKey: string, now: number): Promise<AuthContext> {
  const hash = hashApiKey(apiKey);
  const hit = cache.get(hash);
  if (hit && hit.until > now) return hit.context;
  const grant = await findKeyGrant(apiKey);
  const context: AuthContext = grant
    ? { ownerId: grant.ownerId, principal: keyPrincipal(grant.keyHash), ...(grant.plan ?? defaultPlan()) }
    : { authError: 'invalid or revoked API key' };
  cache.set(hash, { context, until: now + (grant ? AUTH_CACHE_TTL_MS : AUTH_NEGATIVE_CACHE_TTL_MS) });
  if (cache.size > AUTH_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return context;
}

async function authenticateToken(token: string): Promise<AuthContext> {
  const jwt = configuredJwt();
  if (!jwt) return { authError: 'Bearer tokens are not configured (JWT_ISSUER, JWT_AUDIENCE)' };
  const check = await verifyJwt(token, jwt.keys, jwt.settings);
  if ('problem' in check) return { authError: check.problem };
  return { ownerId: check.identity.sub, principal: jwtPrincipal(check.identity.sub), ...defaultPlan() };
}
