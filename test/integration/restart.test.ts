import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { BLUE, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, submitBytes } from '../helpers/local-cloud.ts';

/** State under the state folder survives a restart; work the previous run left unfinished resumes. */

const stateDir = mkdtempSync(join(tmpdir(), 'pipeline-restart-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe('restarting the local cloud', () => {
  it('keeps jobs, results and the dev key, and finishes a job left queued', async () => {
    const first = await startTestCloud({ stateDir, worker: { maxConcurrency: 1 }, maxReceiveCount: 10 });
    const done = await submitBytes(first.client, await twoTone('png', 64, 64, RED, BLUE), 'image/png');
    expect(done.status).toBe('succeeded');

    // A job whose processing keeps failing until the cloud stops: left queued, its message lost with the queue.
    const image = await twoTone('jpeg', 64, 64, BLUE, BLUE);
    const pending = await first.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    const fault = first.cloud.s3Gateway.faults.add({ method: 'GET', keyPrefix: `uploads/${pending.jobId}`, status: 503, times: 1_000 });
    await uploadToPresignedUrl(pending.upload, image);
    const deadline = Date.now() + 10_000;
    while (fault.hits < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await first.cloud.eventSource.idle();
    expect((await first.client.getJob(pending.jobId)).job.status).toBe('queued');
    const key = first.cloud.endpoints.apiKey;
    await first.stop();

    const second = await startTestCloud({ stateDir });
    try {
      expect(second.cloud.endpoints.apiKey).toBe(key);
      expect(JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')).apiUrl).toBe(second.cloud.endpoints.apiUrl);
      const kept = (await second.client.getJob(done.jobId)).job;
      expect(kept.status).toBe('succeeded');
      expect(kept.result).toEqual(done.result);
      const resumed = await second.client.waitForJob(pending.jobId, { timeoutMs: 20_000, minIntervalMs: 50 });
      expect(resumed.status).toBe('succeeded');
      expect((resumed.result as { labels: { label: string }[] }).labels[0]!.label).toBe('blue');
    } finally {
      await second.stop();
    }
  });
});
