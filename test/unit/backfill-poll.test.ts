import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LONG_POLL_SECONDS, readBatchPage } from '../../scripts/backfill/poller.ts';

/** The backfill's batch polls ask for a long poll and know whether the server held the reply. */

const seen: IncomingHttpHeaders[] = [];
let applied = true;
const server = createServer((req, res) => {
  seen.push(req.headers);
  res.setHeader('content-type', 'application/json');
  if (applied && req.headers.prefer) res.setHeader('preference-applied', req.headers.prefer);
  res.end(JSON.stringify({ batchId: 'b1', jobs: [] }));
});
let apiUrl: string;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('readBatchPage', () => {
  it(`sends Prefer: wait=${LONG_POLL_SECONDS} and reports a reply the server held (Preference-Applied)`, async () => {
    applied = true;
    const page = await readBatchPage({ apiUrl, apiKey: 'k' }, 'b1', { waitSeconds: LONG_POLL_SECONDS });
    expect(seen.at(-1)).toMatchObject({ prefer: `wait=${LONG_POLL_SECONDS}`, 'x-api-key': 'k' });
    expect(page).toEqual({ batch: { batchId: 'b1', jobs: [] }, waited: true });
  });

  it('falls back to interval polling when the server ignores the preference', async () => {
    applied = false;
    const page = await readBatchPage({ apiUrl, apiKey: 'k' }, 'b1', { waitSeconds: LONG_POLL_SECONDS });
    expect(page.waited).toBe(false);
  });

  it('asks for no wait on later pages', async () => {
    await readBatchPage({ apiUrl, apiKey: 'k' }, 'b1', { cursor: 'c1' });
    expect(seen.at(-1)?.prefer).toBeUndefined();
  });
});
