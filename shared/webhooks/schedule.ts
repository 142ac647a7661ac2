/**
 * When a failed delivery is tried again: exponential backoff with jitter, for a little over a day
 * (README "Webhooks" shows the table). After the last attempt the event is given up as `failed`.
 */
export const RETRY_DELAYS_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800, 28_800] as const;
/** ± this share of each delay, so receivers that failed together are not retried together. */
export const RETRY_JITTER = 0.2;

/** Seconds before attempt `attempts + 1`, or undefined when `attempts` failures used the schedule up. */
export function retryDelaySeconds(attempts: number, random = Math.random): number | undefined {
  const base = RETRY_DELAYS_SECONDS[attempts - 1];
  if (base === undefined) return undefined;
  return Math.max(1, Math.round(base * (1 + RETRY_JITTER * (2 * random() - 1))));
}

/** The whole schedule's span without jitter: at least 24 h. */
export const RETRY_SPAN_SECONDS = RETRY_DELAYS_SECONDS.reduce((a, b) => a + b, 0);
