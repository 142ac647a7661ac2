import { getConfig } from '../config.ts';

/**
 * A plan: how much one caller may ask. A token bucket (steady `rate` per second, `burst` at once)
 * and a quota of requests per day or month (UTC), a batch counting as its number of items.
 */

export const QUOTA_PERIODS = ['day', 'month'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

export interface Plan {
  /** Steady requests per second. */
  rate: number;
  /** Requests allowed at once above the steady rate. */
  burst: number;
  /** Requests per quota period. */
  quota: number;
  quotaPeriod: QuotaPeriod;
}

export function defaultPlan(): Plan {
  const c = getConfig();
  return { rate: c.PLAN_RATE_PER_SECOND, burst: c.PLAN_BURST, quota: c.PLAN_QUOTA, quotaPeriod: c.PLAN_QUOTA_PERIOD };
}

/** `100/day` or `5000/month`, as the keys CLI takes it. */
export function parseQuota(text: string): Pick<Plan, 'quota' | 'quotaPeriod'> {
  const match = /^(\d+)\/(day|month)$/.exec(text.trim());
  const quota = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(quota) || quota < 1) throw new Error(`quota must look like 100/day or 5000/month, not ${text}`);
  return { quota, quotaPeriod: match[2] as QuotaPeriod };
}

export function describePlan(plan: Plan): string {
  return `${plan.rate}/s burst ${plan.burst}, ${plan.quota}/${plan.quotaPeriod}`;
}

/** The quota period holding `nowMs`: its id (stored with the count) and when the next one starts. */
export function quotaWindow(period: QuotaPeriod, nowMs: number): { id: string; resetsAtMs: number } {
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  if (period === 'day') {
    const day = now.getUTCDate();
    return { id: now.toISOString().slice(0, 10), resetsAtMs: Date.UTC(year, month, day + 1) };
  }
  return { id: now.toISOString().slice(0, 7), resetsAtMs: Date.UTC(year, month + 1, 1) };
}
