import { sleep } from '../retry.ts';

/**
 * Long-polling (`Prefer: wait=N`): read until the answer is final or the time is up. Reads start
 * quick and settle at four a second, so a job is answered within ~50–250 ms of ending; a 25 s wait
 * costs about a hundred strongly consistent single-item reads (a fraction of a cent per million).
 */

/** API Gateway ends an integration at 30 s: a held reply answers well before. */
export const MAX_WAIT_SECONDS = 25;
const FIRST_INTERVAL_MS = 50;
const MAX_INTERVAL_MS = 250;

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
