import { sleep } from '../retry.ts';

/**
 * Long-polling (`Prefer: wait=N`): read until the answer is final or the time is up. Reads start
 * quick and slow down, so a job that ends within a second is answered within ~100 ms of it while
 * a long wait costs about one strongly consistent read a second.
 */

/** API Gateway ends an integration at 30 s: a held reply answers well before. */
export const MAX_WAIT_SECONDS = 25;
const FIRST_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 1_000;

export async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, waitSeconds: number): Promise<T> {
  const until = Date.now() + Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000;
  let interval = FIRST_INTERVAL_MS;
  for (;;) {
    const value = await read();
    const left = until - Date.now();
    if (done(value) || left <= 0) return value;
    await sleep(Math.min(interval, left));
    interval = Math.min(interval * 1.5, MAX_INTERVAL_MS);
  }
}
