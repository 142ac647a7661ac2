import { type Charge, chargeRequest, limitsClock } from '#shared/auth/rate-limits.ts';
import { LIMITS } from '#shared/config.ts';
import { ApiError } from '#shared/errors.ts';
import { type ApiEvent, type ApiResponse, callerOf, errorResponse } from './http.ts';
import type { RouteKey } from './routes.ts';

/**
 * Per-caller plans, enforced here, in the API function, before a route does any work: the
 * authorizer knows the key but not the body (a batch is charged its number of items) and cannot
 * put headers on the reply. Every reply of an authenticated route carries the IETF draft
 * RateLimit-Limit / -Remaining / -Reset headers of whichever limit is closer to exhaustion.
 */

/** Routes whose cost is their number of items rather than one request. */
const ITEM_ROUTES: readonly RouteKey[] = ['POST /v1/batches'];

/** What a request counts against the quota: one, or a batch's items (bounded as the batch is). */
export function requestCost(event: ApiEvent, route: RouteKey): number {
  if (!ITEM_ROUTES.includes(route) || !event.body) return 1;
  try {
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const items = (JSON.parse(text) as { items?: unknown }).items;
    // A body the route will refuse (no items, too many) is still one request.
    return Array.isArray(items) && items.length > 0 ? Math.min(items.length, LIMITS.BATCH_MAX_ITEMS) : 1;
  } catch {
    return 1;
  }
}

export type Admission = { headers: Record<string, string> } & ({ admitted: true } | { admitted: false; refusal: ApiResponse });

/** Charge the caller for this request; a refusal is a ready 429 (or 401) reply. */
export async function admit(event: ApiEvent, route: RouteKey): Promise<Admission> {
  const caller = callerOf(event);
  const charge = await chargeRequest(caller.principal, caller, requestCost(event, route));
  const headers = rateLimitHeaders(charge, caller.quota, caller.burst);
  if (charge.outcome === 'allowed') return { admitted: true, headers };
  const refusal =
    charge.outcome === 'rate_limited'
      ? withHeaders(errorResponse(new ApiError('rate_limited', `over this key's rate of ${caller.rate}/s (burst ${caller.burst})`)), {
          'retry-after': String(Math.max(1, Math.ceil(charge.retryAfterMs / 1000))),
        })
      : errorResponse(
          new ApiError('quota_exceeded', `over this key's quota of ${caller.quota} per ${caller.quotaPeriod}`, {
            resetsAt: new Date(charge.quotaResetsAtMs).toISOString(),
          }),
        );
  return { admitted: false, headers, refusal: withHeaders(refusal, headers) };
}

function rateLimitHeaders(charge: Charge, quota: number, burst: number): Record<string, string> {
  const now = limitsClock.now();
  const quotaReset = Math.max(0, Math.ceil((charge.quotaResetsAtMs - now) / 1000));
  const burstReset = Math.max(0, Math.ceil(charge.burstFullInMs / 1000));
  const rateFirst = charge.outcome === 'rate_limited' || (charge.outcome === 'allowed' && charge.burstRemaining < charge.quotaRemaining);
  const [limit, remaining, reset] = rateFirst
    ? [burst, charge.outcome === 'rate_limited' ? 0 : charge.burstRemaining, burstReset]
    : [quota, charge.quotaRemaining, quotaReset];
  return { 'ratelimit-limit': String(limit), 'ratelimit-remaining': String(remaining), 'ratelimit-reset': String(reset) };
}

export function withHeaders(response: ApiResponse, headers: Record<string, string>): ApiResponse {
  return { ...response, headers: { ...response.headers, ...headers } };
}
