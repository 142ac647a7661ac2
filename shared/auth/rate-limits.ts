import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionFailure } from '../aws.ts';
import { getConfig } from '../config.ts';
import { type Plan, quotaWindow } from './plans.ts';

/**
 * Per-caller limits, counted in DynamoDB so every API instance shares them. One item per caller,
 * `pk = limits#<principal>`, holds both counters, and one conditional UpdateItem charges a request
 * against both at once, so a refused request costs nothing and no count is lost under concurrency:
 *
 * - rate, as GCRA (a token bucket kept as one number): `tat`, the theoretical arrival time (epoch
 *   ms) at which the bucket is full again. A request is allowed when max(tat, now) + T − now ≤
 *   burst·T (T = 1000/rate ms), and then tat becomes max(tat, now) + T. DynamoDB has no max(), so
 *   the update takes one of two branches, each guarded by its own condition: `idle` (tat ≤ now:
 *   SET tat = now + T) or `busy` (now < tat ≤ now + (burst−1)·T: SET tat = tat + T).
 * - quota: `used` requests in `period` (e.g. 2025-06-01): `same` (period = current AND used ≤
 *   quota − cost: ADD used cost) or `new` (another or no period: SET period, used = cost).
 *
 * The branches are guessed from what this process last saw of the caller; a wrong guess fails its
 * condition, and the item as it stands (returned with the failure, or read) says which branches
 * hold — or that the caller is over its rate or quota. So a request takes one write, and a second
 * only after a guess went stale.
 */

/** The clock the limits read; tests move it to cross a period boundary or to freeze refills. */
export const limitsClock = { now: (): number => Date.now() };

/** Counter items outlive their caller's last request by this long (DynamoDB TTL), then vanish. */
export const LIMITS_ITEM_RETENTION_DAYS = 62;
/** Guesses that can go stale in a row under contention before the request is refused as rate_limited. */
const MAX_ATTEMPTS = 6;
/** Callers whose last-seen counters this process remembers (to guess the branches). */
const GUESS_CACHE_SIZE = 10_000;

export interface Usage {
  /** Quota left after this request, and when the quota period resets. */
  quotaRemaining: number;
  quotaResetsAtMs: number;
  /** Requests that could be made at once right now, and ms until the bucket is full again. */
  burstRemaining: number;
  burstFullInMs: number;
}

export type Charge =
  | ({ outcome: 'allowed' } & Usage)
  | ({ outcome: 'rate_limited'; retryAfterMs: number } & Usage)
  | ({ outcome: 'quota_exceeded' } & Usage);

interface Counters {
  tat?: number;
  period?: string;
  used?: number;
}

type RateBranch = 'idle' | 'busy';
type QuotaBranch = 'same' | 'new';

const lastSeen = new Map<string, Counters>();

const itemKey = (principal: string) => ({ pk: `limits#${principal}` });

/** Charge `cost` requests (a batch: its items) to `principal` under `plan`. */
export async function chargeRequest(principal: string, plan: Plan, cost = 1): Promise<Charge> {
  const now = limitsClock.now();
  const interval = 1000 / plan.rate;
  const tatMax = now + (plan.burst - 1) * interval;
  const window = quotaWindow(plan.quotaPeriod, now);
  const usage = (c: Counters): Usage => {
    const tat = Math.max(c.tat ?? 0, now);
    const used = c.period === window.id ? (c.used ?? 0) : 0;
    return {
      quotaRemaining: Math.max(0, plan.quota - used),
      quotaResetsAtMs: window.resetsAtMs,
      burstRemaining: Math.max(0, Math.floor((now + plan.burst * interval - tat) / interval)),
      burstFullInMs: tat - now,
    };
  };
  if (cost > plan.quota) return { outcome: 'quota_exceeded', ...usage({}) };

  let seen = lastSeen.get(principal) ?? {};
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const rate: RateBranch = (seen.tat ?? 0) > now ? 'busy' : 'idle';
    const quota: QuotaBranch = seen.period === window.id ? 'same' : 'new';
    if (seen.period === window.id && (seen.used ?? 0) > plan.quota - cost) return { outcome: 'quota_exceeded', ...usage(seen) };
    if ((seen.tat ?? 0) > tatMax) return { outcome: 'rate_limited', retryAfterMs: (seen.tat ?? 0) - tatMax, ...usage(seen) };
    const written = await tryCharge(principal, { rate, quota, now, interval, tatMax, period: window.id, usedMax: plan.quota - cost, cost });
    if (written.ok) {
      remember(principal, written.counters);
      return { outcome: 'allowed', ...usage(written.counters) };
    }
    seen = written.counters;
    remember(principal, seen);
  }
  return { outcome: 'rate_limited', retryAfterMs: interval, ...usage(seen) };
}

interface ChargeStep {
  rate: RateBranch;
  quota: QuotaBranch;
  now: number;
  interval: number;
  tatMax: number;
  period: string;
  usedMax: number;
  cost: number;
}

async function tryCharge(principal: string, step: ChargeStep): Promise<{ ok: boolean; counters: Counters }> {
  const sets = ['#type = :type', 'expiresAt = :expiresAt'];
  const conditions: string[] = [];
  const values: Record<string, unknown> = {
    ':type': 'limits',
    ':expiresAt': Math.floor(step.now / 1000) + LIMITS_ITEM_RETENTION_DAYS * 86_400,
    ':period': step.period,
    ':cost': step.cost,
  };
  if (step.rate === 'idle') {
    sets.push('tat = :idleTat');
    conditions.push('(attribute_not_exists(tat) OR tat <= :now)');
    Object.assign(values, { ':idleTat': step.now + step.interval, ':now': step.now });
  } else {
    sets.push('tat = tat + :interval');
    conditions.push('(tat > :now AND tat <= :tatMax)');
    Object.assign(values, { ':interval': step.interval, ':now': step.now, ':tatMax': step.tatMax });
  }
  let add = '';
  if (step.quota === 'same') {
    add = ' ADD used :cost';
    conditions.push('(#period = :period AND used <= :usedMax)');
    values[':usedMax'] = step.usedMax;
  } else {
    sets.push('#period = :period', 'used = :cost');
    conditions.push('(attribute_not_exists(#period) OR #period <> :period)');
  }
  try {
    const { Attributes } = await documentClient().send(
      new UpdateCommand({
        TableName: getConfig().TABLE_NAME,
        Key: itemKey(principal),
        UpdateExpression: `SET ${sets.join(', ')}${add}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: { '#type': 'type', '#period': 'period' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { ok: true, counters: countersOf(Attributes) };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    // AWS returns the item with the failure; an emulator that does not is asked once more.
    const returned = (error as { Item?: Record<string, unknown> }).Item;
    if (returned) return { ok: false, counters: countersOf(unmarshalled(returned)) };
    const { Item } = await documentClient().send(
      new GetCommand({ TableName: getConfig().TABLE_NAME, Key: itemKey(principal), ConsistentRead: true }),
    );
    return { ok: false, counters: countersOf(Item) };
  }
}

/** The failure's Item is in the low-level shape ({N: "1"}), as the document client does not convert errors. */
function unmarshalled(item: Record<string, unknown>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    const v = value as { N?: string; S?: string };
    plain[name] = v.N !== undefined ? Number(v.N) : v.S;
  }
  return plain;
}

function countersOf(item: Record<string, unknown> | undefined): Counters {
  return {
    ...(typeof item?.tat === 'number' ? { tat: item.tat } : {}),
    ...(typeof item?.period === 'string' ? { period: item.period } : {}),
    ...(typeof item?.used === 'number' ? { used: item.used } : {}),
  };
}

function remember(principal: string, counters: Counters): void {
  lastSeen.delete(principal);
  lastSeen.set(principal, counters);
  if (lastSeen.size > GUESS_CACHE_SIZE) lastSeen.delete(lastSeen.keys().next().value!);
}
