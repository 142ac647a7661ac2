import { findKeyOwner, hashApiKey } from './api-keys.ts';

/**
 * Who is calling: an API key turned into its owner, or why not. Lookups are cached in memory, as
 * API Gateway's authorizer cache would, without its identity-source rule.
 */

export type AuthContext = { ownerId: string } | { authError: string };

/** How long a key lookup is trusted; a revoked key stops working within this time. */
export const AUTH_CACHE_TTL_MS = 60_000;
/** Unknown keys are remembered briefly only, so a key just created works at once. */
export const AUTH_NEGATIVE_CACHE_TTL_MS = 2_000;

const cache = new Map<string, { context: AuthContext; until: number }>();

export async function authenticate(apiKey: string | undefined, now = Date.now()): Promise<AuthContext> {
  if (!apiKey) return { authError: 'missing x-api-key header' };
  const hash = hashApiKey(apiKey);
  const hit = cache.get(hash);
  if (hit && hit.until > now) return hit.context;
  const ownerId = await findKeyOwner(apiKey);
  const context: AuthContext = ownerId ? { ownerId } : { authError: 'invalid or revoked API key' };
  cache.set(hash, { context, until: now + (ownerId ? AUTH_CACHE_TTL_MS : AUTH_NEGATIVE_CACHE_TTL_MS) });
  if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
  return context;
}

