import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadToPresignedUrl, verifyWebhook } from '#shared/client/pipeline-client.ts';
import { getJob } from '#shared/jobs/store.ts';
import { BLUE, RED, twoTone } from '../helpers/images.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { type ReceivedCall, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * Webhooks against the local cloud, with a real receiver on loopback: signed per Standard
 * Webhooks, at least once, the same webhook-id on every retry, 410 disables, rotation signs twice.
 */

let t: TestCloud;
let receiver: WebhookReceiver;
let image: Buffer;

beforeAll(async () => {
  image = await twoTone('jpeg', 64, 64, RED, BLUE);
  receiver = await startWebhookReceiver();
  // A delivery that gets no answer within 1 s has timed out; the sweep runs often.
  t = await startTestCloud({ env: { WEBHOOK_TIMEOUT_MS: '1000' }, scheduleEveryMs: { sweep: 500 } });
});

afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

const bodyOf = (call: ReceivedCall) => JSON.parse(call.body) as { type: string; timestamp: string; data: Record<string, unknown> };
const forJob = (jobId: string) => (calls: ReceivedCall[]) => calls.filter((c) => (bodyOf(c).data as { jobId?: string }).jobId === jobId);

async function submit(webhook: { url: string; events?: string[] }) {
  const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length, webhook: webhook as never });
  await uploadToPresignedUrl(job.upload, image);
  return job;
}

describe('webhooks', () => {
  it('delivers job.succeeded of an uploaded job nobody reads, signed with the owner secret', async () => {
    const { secret } = await t.client.webhookSecret();
    const job = await submit({ url: receiver.url });
    const [call] = forJob(job.jobId)(await receiver.waitFor((calls) => forJob(job.jobId)(calls).length >= 1));
    const payload = verifyWebhook(secret, call!.headers as Record<string, string>, call!.body) as { type: string; data: { status: string; result: { labels: unknown[] } } };
    expect(payload.type).toBe('job.succeeded');
    expect(payload.data.status).toBe('succeeded');
    expect(payload.data.result.labels.length).toBeGreaterThan(0);
    expect(call!.headers['webhook-id']).toMatch(/^evt_/);
    expect(Math.abs(Number(call!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    // A tampered body does not verify.
    expect(() => verifyWebhook(secret, call!.headers as Record<string, string>, call!.body.replace('succeeded', 'failed'))).toThrow(/signature/);
    // The job shows the delivery.
    await expect.poll(async () => (await t.client.getJob(job.jobId)).job.webhook?.status).toBe('delivered');
  });

  it('sends only the events subscribed to, in order (job.running before job.succeeded)', async () => {
    const job = await submit({ url: receiver.url, events: ['job.running', 'job.succeeded'] });
    const calls = forJob(job.jobId)(await receiver.waitFor((all) => forJob(job.jobId)(all).length >= 2));
    expect(calls.map((c) => bodyOf(c).type)).toEqual(['job.running', 'job.succeeded']);
  });

  it.each([
    ['a 500', { status: 500 }],
    ['a timeout', { status: 200, delayMs: 2500 }],
  ])('retries after %s with the same webhook-id', async (_name, firstAnswer) => {
    receiver.answers.push(firstAnswer);
    const job = await submit({ url: receiver.url });
    // The first retry is due 5 s (± 20 %) later.
    const calls = forJob(job.jobId)(await receiver.waitFor((all) => forJob(job.jobId)(all).length >= 2, 30_000));
    expect(new Set(calls.map((c) => c.headers['webhook-id'])).size).toBe(1);
    expect(calls[1]!.receivedAt - calls[0]!.receivedAt).toBeGreaterThanOrEqual(3_000);
    await expect.poll(async () => (await t.client.getJob(job.jobId)).job.webhook, { timeout: 10_000 }).toMatchObject({ status: 'delivered', attempts: 0 });
  });

  it('shows a failing delivery with its last status and next attempt', async () => {
    receiver.answers.push({ status: 503 });
    const job = await submit({ url: receiver.url });
    await receiver.waitFor((all) => forJob(job.jobId)(all).length >= 1);
    await expect
      .poll(async () => (await t.client.getJob(job.jobId)).job.webhook)
      .toMatchObject({ status: 'failing', attempts: 1, lastStatus: 503, nextAttemptAt: expect.any(String) });
  });

  it('disables a URL that answers 410 for its owner, and redeliver re-enables it', async () => {
    const gone = await startWebhookReceiver('/gone');
    gone.fallback = { status: 410 };
    try {
      const first = await submit({ url: gone.url });
      await expect.poll(async () => (await t.client.getJob(first.jobId)).job.webhook?.status, { timeout: 20_000 }).toBe('disabled');
      const second = await submit({ url: gone.url });
      await expect.poll(async () => (await t.client.getJob(second.jobId)).job.webhook?.status, { timeout: 20_000 }).toBe('disabled');
      expect(gone.calls).toHaveLength(1);

      gone.fallback = { status: 200 };
      await t.client.redeliverWebhook(second.jobId);
      await gone.waitFor((calls) => calls.length === 2);
      await expect.poll(async () => (await t.client.getJob(second.jobId)).job.webhook?.status).toBe('delivered');
    } finally {
      await gone.close();
    }
  });

  it('signs with both secrets during a rotation', async () => {
    const before = await t.client.webhookSecret();
    const rotated = await t.client.rotateWebhookSecret();
    expect(rotated.secret).not.toBe(before.secret);
    expect(rotated.previous?.secret).toBe(before.secret);
    const job = await submit({ url: receiver.url });
    const [call] = forJob(job.jobId)(await receiver.waitFor((all) => forJob(job.jobId)(all).length >= 1));
    expect(String(call!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    // A receiver holding either secret verifies it.
    expect(() => verifyWebhook(rotated.secret, call!.headers as Record<string, string>, call!.body)).not.toThrow();
    expect(() => verifyWebhook(before.secret, call!.headers as Record<string, string>, call!.body)).not.toThrow();
  });

  it('tells batch.completed once every job of the batch has ended', async () => {
    const { batch } = await t.client.createBatch({
      items: [{ contentType: 'image/jpeg', contentLength: image.length }, { contentType: 'image/jpeg', contentLength: image.length }],
      webhook: { url: receiver.url, events: ['batch.completed'] },
    });
    for (const job of batch.jobs) await uploadToPresignedUrl(job.upload!, image);
    const calls = await receiver.waitFor((all) => all.some((c) => (bodyOf(c).data as { batchId?: string }).batchId === batch.batchId && bodyOf(c).type === 'batch.completed'));
    const completed = calls.filter((c) => bodyOf(c).type === 'batch.completed' && (bodyOf(c).data as { batchId?: string }).batchId === batch.batchId);
    expect(completed).toHaveLength(1);
    expect(bodyOf(completed[0]!).data).toMatchObject({ total: 2, done: true, counts: { succeeded: 2 } });
    // Its jobs were not subscribed to job events.
    expect(calls.some((c) => batch.jobs.some((j) => (bodyOf(c).data as { jobId?: string }).jobId === j.jobId))).toBe(false);
  });

  it('refuses a webhook URL that is not http(s), naming the field', async () => {
    await expect(t.client.createJob({ contentType: 'image/jpeg', contentLength: 10, webhook: { url: 'ftp://example.com/x' } as never })).rejects.toMatchObject({
      status: 400,
      details: expect.arrayContaining([expect.objectContaining({ path: 'webhook.url' })]),
    });
  });

  it('records the events on the job item in the same write as its state', async () => {
    const job = await submit({ url: receiver.url });
    await t.client.waitForJob(job.jobId, { timeoutMs: 30_000 });
    const stored = await getJob(job.jobId);
    expect(stored?.events?.map((e) => e.type)).toEqual(['job.running', 'job.succeeded']);
  });
});
