import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '#shared/auth/api-keys.ts';
import { PipelineClient, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { getJob } from '#shared/jobs/store.ts';
import { BLUE, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * The lifecycle runs by itself: jobs nobody reads expire or finish, an event written before a
 * crash of the delivery path is still delivered, long polls return when the job ends, listings
 * page and filter within one owner.
 */

let image: Buffer;
beforeAll(async () => {
  image = await twoTone('jpeg', 48, 48, RED, BLUE);
});

describe('states change without readers', () => {
  let t: TestCloud;
  beforeAll(async () => {
    // Upload URLs valid for 1 s, expired at once after that; the sweep runs every 300 ms.
    t = await startTestCloud({ env: { UPLOAD_URL_TTL_SECONDS: '1', UPLOAD_EXPIRY_GRACE_SECONDS: '0' }, scheduleEveryMs: { sweep: 300 } });
  });
  afterAll(() => t?.stop());

  it('expires a job nobody uploaded to or read, and never one whose upload landed, even where S3 answers HEAD with 403', async () => {
    // On AWS, HEAD of a missing key is a 403 without bucket-wide ListBucket: the sweep must not depend on HEAD.
    const headRefused = t.cloud.s3Gateway.faults.add({ method: 'HEAD', keyPrefix: 'uploads/', status: 403, code: 'AccessDenied', times: 1000 });
    const idle = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    const uploaded = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    await uploadToPresignedUrl(uploaded.upload, image);

    // Read from the table, not through the API: no reader moves it.
    await expect.poll(async () => (await getJob(idle.jobId))?.status, { timeout: 15_000 }).toBe('expired');
    expect((await getJob(idle.jobId))?.error?.code).toBe('upload_expired');
    await expect.poll(async () => (await getJob(uploaded.jobId))?.status, { timeout: 15_000 }).toBe('succeeded');
    expect(headRefused.hits).toBe(0);
    t.cloud.s3Gateway.faults.clear();
  });

  it("counts a batch's jobs as they move, without anyone polling them one by one", async () => {
    const { batch } = await t.client.createBatch({ items: [1, 2, 3].map(() => ({ contentType: 'image/jpeg', contentLength: image.length })) });
    await uploadToPresignedUrl(batch.jobs[0]!.upload!, image);
    await uploadToPresignedUrl(batch.jobs[1]!.upload!, image);
    // The third is never uploaded: it expires by itself and the batch ends.
    const { batch: view } = await t.client.getBatch(batch.batchId);
    const done = view.done ? view : (await pollBatchDone(t.client, batch.batchId));
    expect(done.counts).toMatchObject({ succeeded: 2, expired: 1 });
  });
});

async function pollBatchDone(client: PipelineClient, batchId: string) {
  for (let i = 0; i < 60; i++) {
    const { batch } = await client.getBatch(batchId);
    if (batch.done) return batch;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`batch ${batchId} did not end`);
}

describe('an event survives the delivery path going down right after the state write', () => {
  let receiver: WebhookReceiver;
  let stateDir: string;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    stateDir = mkdtempSync(join(tmpdir(), 'pipeline-crash-'));
  });
  afterAll(async () => {
    await receiver?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('delivers the webhook after a restart', async () => {
    // First life: no delivery queue (every nudge is lost, as if the process died right after each
    // state write) and no sweep. The job succeeds; nothing is delivered.
    const first = await startTestCloud({ stateDir, env: { WEBHOOK_QUEUE_URL: '' }, scheduleEveryMs: { sweep: 3_600_000 } });
    let jobId: string;
    try {
      const job = await first.client.createJob({ contentType: 'image/jpeg', contentLength: image.length, webhook: { url: receiver.url } });
      jobId = job.jobId;
      await uploadToPresignedUrl(job.upload, image);
      expect((await first.client.waitForJob(jobId, { timeoutMs: 30_000 })).status).toBe('succeeded');
      await new Promise((r) => setTimeout(r, 500));
      expect(receiver.calls).toHaveLength(0);
      expect((await first.client.getJob(jobId)).job.webhook?.status).toBe('pending');
    } finally {
      await first.stop();
    }
    // Second life on the same state: the sweep finds the event due and it is delivered.
    const second = await startTestCloud({ stateDir, scheduleEveryMs: { sweep: 300 } });
    try {
      const [call] = await receiver.waitFor((calls) => calls.length >= 1, 20_000);
      expect(JSON.parse(call!.body)).toMatchObject({ type: 'job.succeeded', data: { jobId, status: 'succeeded' } });
      await expect.poll(async () => (await second.client.getJob(jobId)).job.webhook?.status).toBe('delivered');
    } finally {
      await second.stop();
    }
  });
});

describe('waiting without polling, and listing', () => {
  let t: TestCloud;
  let other: PipelineClient;
  beforeAll(async () => {
    t = await startTestCloud();
    other = new PipelineClient(t.cloud.endpoints.apiUrl, (await createApiKey('lister-other', 'test')).key);
  });
  afterAll(() => t?.stop());

  it('holds a status reply for Prefer: wait=N and says so, at most N seconds', async () => {
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    const started = Date.now();
    const held = await fetch(`${t.cloud.endpoints.apiUrl}/v1/jobs/${job.jobId}`, { headers: { 'x-api-key': t.cloud.endpoints.apiKey, prefer: 'wait=2' } });
    const heldFor = Date.now() - started;
    expect(held.headers.get('preference-applied')).toBe('wait=2');
    expect(((await held.json()) as { status: string }).status).toBe('awaiting_upload');
    expect(heldFor).toBeGreaterThanOrEqual(1_900);
    expect(heldFor).toBeLessThan(10_000);
  });

  it('answers a long poll as soon as the job ends', async () => {
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    const reply = fetch(`${t.cloud.endpoints.apiUrl}/v1/jobs/${job.jobId}`, { headers: { 'x-api-key': t.cloud.endpoints.apiKey, prefer: 'wait=25' } });
    await uploadToPresignedUrl(job.upload, image);
    const body = (await (await reply).json()) as { status: string };
    expect(body.status).toBe('succeeded');
  });

  it('caps a longer wait at 25 s and ignores a malformed one', async () => {
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length });
    await t.client.cancelJob(job.jobId);
    const capped = await fetch(`${t.cloud.endpoints.apiUrl}/v1/jobs/${job.jobId}`, { headers: { 'x-api-key': t.cloud.endpoints.apiKey, prefer: 'wait=600' } });
    expect(capped.headers.get('preference-applied')).toBe('wait=25');
    const malformed = await fetch(`${t.cloud.endpoints.apiUrl}/v1/jobs/${job.jobId}`, { headers: { 'x-api-key': t.cloud.endpoints.apiKey, prefer: 'wait=soon' } });
    expect(malformed.headers.get('preference-applied')).toBeNull();
  });

  it("lists the owner's jobs newest first, paged and filtered, and never another owner's", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await t.client.createJob({ contentType: 'image/jpeg', contentLength: 100 + i })).jobId);
    const theirs = await other.createJob({ contentType: 'image/jpeg', contentLength: 100 });
    await t.client.cancelJob(mine[1]!);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.client.listJobs({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.jobs.map((j) => j.jobId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).not.toContain(theirs.jobId);
    // Newest first: the five, in reverse order of creation, come before anything older.
    const positions = mine.map((id) => seen.indexOf(id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => b - a)).toEqual(positions);
    expect(new Set(seen).size).toBe(seen.length);

    const canceled = await t.client.listJobs({ status: 'canceled' });
    expect(canceled.jobs.map((j) => j.jobId)).toContain(mine[1]);
    expect(canceled.jobs.every((j) => j.status === 'canceled')).toBe(true);
    const created = (await getJob(mine[2]!))!.createdAt;
    const after = await t.client.listJobs({ createdAfter: created });
    expect(after.jobs.map((j) => j.jobId).sort()).toEqual([mine[3], mine[4]].sort());
    expect((await other.listJobs()).jobs.map((j) => j.jobId)).toEqual([theirs.jobId]);
    // Another owner's cursor is refused.
    const page = await t.client.listJobs({ limit: 1 });
    await expect(other.listJobs({ cursor: page.nextCursor! })).rejects.toMatchObject({ status: 400 });
  });

  it('refuses a listing filter it does not know, naming it', async () => {
    await expect(t.client.listJobs({ status: 'done' })).rejects.toMatchObject({ status: 400, details: [expect.objectContaining({ path: 'status' })] });
  });
});
