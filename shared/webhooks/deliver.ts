import { randomUUID } from 'node:crypto';
import { getConfig } from '../config.ts';
import { logger } from '../logger.ts';
import { getBatch, getJobs } from '../jobs/batch-store.ts';
import { summarize } from '../jobs/batch-status.ts';
import { getJob } from '../jobs/store.ts';
import { batchPath, viewOf } from '../jobs/views.ts';
import { putResult } from '../storage/objects.ts';
import { createResultUrl } from '../storage/presign.ts';
import { metrics } from '../metrics.ts';
import { holdForSending, postponeBatchCheck, recordBatchCompleted, settleOutbox, updateDelivery } from './delivery-store.ts';
import type { DeliveryState, LifecycleEvent, WebhookSubscription } from './events.ts';
import { activeSecrets, ensureSecret, setUrlDisabled } from './owners.ts';
import { type DeliveryRequest, requestDelivery, MAX_DELAY_SECONDS } from './queue.ts';
import { retryDelaySeconds } from './schedule.ts';
import { postWebhook } from './send.ts';
import { signedHeaders } from './signing.ts';
import { BATCH_CHECK_INTERVAL_MS } from '../jobs/create-batch.ts';

/**
 * Delivering an item's outbox: its events not yet delivered, oldest first, each signed and POSTed
 * to its webhook until the receiver answers 2xx, on the retry schedule when it does not. Runs from
 * the delivery queue (a nudge after each state change) and from the sweep (anything due), so an
 * event written before a crash is still delivered after it.
 */

/** A payload larger than this sends the job without its inline result, and a resultUrl instead. */
export const WEBHOOK_PAYLOAD_MAX_BYTES = 20 * 1024;
/** A send holds its item this much longer than the call's timeout (the writes around it). */
const SEND_HOLD_MARGIN_MS = 5_000;
/** Events delivered per run at most (the rest stay due). */
const EVENTS_PER_RUN = 20;

interface Outbox {
  ownerId: string;
  webhook: WebhookSubscription;
  events: LifecycleEvent[];
  delivery: DeliveryState;
  /** The payload's `data` for an event. */
  data(): Promise<Record<string, unknown>>;
}

async function jobOutbox(jobId: string): Promise<Outbox | undefined> {
  const job = await getJob(jobId);
  if (!job?.webhook) return undefined;
  return {
    ownerId: job.ownerId,
    webhook: job.webhook,
    events: job.events ?? [],
    delivery: job.delivery ?? { status: 'idle', done: 0, attempts: 0 },
    async data() {
      const { upload: _upload, ...view } = await viewOf(job);
      if (Buffer.byteLength(JSON.stringify(view)) <= WEBHOOK_PAYLOAD_MAX_BYTES || view.result === undefined) return view;
      // Too large to send inline: the result goes to the bucket and the payload links it.
      const { result, ...rest } = view;
      await putResult(job.jobId, JSON.stringify(result));
      return { ...rest, resultUrl: await createResultUrl(job.jobId) };
    },
  };
}

async function batchOutbox(batchId: string, now: number): Promise<Outbox | undefined> {
  let batch = await getBatch(batchId);
  if (!batch?.webhook) return undefined;
  if (!batch.completedAt) {
    const { counts, done } = summarize(batch.jobIds, await getJobs(batch.jobIds));
    if (!done) {
      await postponeBatchCheck(batchId, now + BATCH_CHECK_INTERVAL_MS);
      return undefined;
    }
    await recordBatchCompleted(batchId, now, { id: `evt_${randomUUID()}`, type: 'batch.completed', at: new Date(now).toISOString() });
    batch = (await getBatch(batchId))!;
    logger.info('batch completed', { batchId, counts });
  }
  const completed = batch;
  return {
    ownerId: completed.ownerId,
    webhook: completed.webhook!,
    events: completed.events ?? [],
    delivery: completed.delivery ?? { status: 'idle', done: 0, attempts: 0 },
    async data() {
      const { counts } = summarize(completed.jobIds, await getJobs(completed.jobIds));
      return { batchId, model: completed.model, createdAt: completed.createdAt, completedAt: completed.completedAt, total: completed.jobIds.length, counts, done: true, links: { self: batchPath(batchId) } };
    },
  };
}

export async function deliverPending(request: DeliveryRequest, now = Date.now()): Promise<void> {
  const config = getConfig();
  for (let sent = 0; sent < EVENTS_PER_RUN; sent++) {
    const outbox = request.kind === 'job' ? await jobOutbox(request.id) : await batchOutbox(request.id, now);
    if (!outbox) return;
    const { delivery, events, webhook } = outbox;
    const event = events[delivery.done];
    if (!event) {
      const { sendingUntil: _released, ...settled } = delivery;
      // An event recorded since the read keeps the item due: go round again.
      if (await settleOutbox(request, events.length, settled)) return;
      continue;
    }
    if (!webhook.events.includes(event.type)) {
      // Not subscribed: passed over without a call.
      if (!(await updateDelivery(request, delivery.done, { delivery: { ...delivery, done: delivery.done + 1 }, dueAt: Date.now() }))) return;
      continue;
    }
    if (!(await holdForSending(request, delivery.done, Date.now() + config.WEBHOOK_TIMEOUT_MS + SEND_HOLD_MARGIN_MS, Date.now()))) {
      // Another deliverer is sending this item's events; it goes on to the rest.
      return;
    }
    // A failing event waits for its retry time: a nudge for a newer event does not hurry it.
    if (delivery.status === 'failing' && delivery.nextAttemptAt && Date.parse(delivery.nextAttemptAt) > Date.now()) return;
    const owner = await ensureSecret(outbox.ownerId);
    if (owner.disabledUrls?.includes(webhook.url)) {
      await updateDelivery(request, delivery.done, {
        delivery: { status: 'disabled', done: events.length, attempts: 0, lastError: 'the URL answered 410 Gone earlier; redeliver re-enables it' },
      });
      return;
    }
    const body = JSON.stringify({ type: event.type, timestamp: event.at, data: await outbox.data() });
    const timestamp = Math.floor(Date.now() / 1000);
    const result = await postWebhook(webhook.url, signedHeaders(activeSecrets(owner), event.id, timestamp, body), body, {
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_TARGETS,
    });
    const log = { ...request, eventId: event.id, type: event.type, status: result.status, attempt: delivery.attempts + 1 };
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    metrics.addMetric(ok ? 'WebhookDelivered' : 'WebhookFailed', 'Count', 1);

    if (ok) {
      logger.info('webhook delivered', log);
      const next: DeliveryState = { status: 'delivered', done: delivery.done + 1, attempts: 0, lastStatus: result.status };
      if (!(await updateDelivery(request, delivery.done, { delivery: next, dueAt: Date.now() }))) return;
      continue;
    }
    if (result.status === 410) {
      logger.warn('webhook URL gone (410): disabled for its owner', log);
      await setUrlDisabled(outbox.ownerId, webhook.url, true);
      await updateDelivery(request, delivery.done, {
        delivery: { status: 'disabled', done: events.length, attempts: delivery.attempts + 1, lastStatus: 410, lastError: 'HTTP 410 Gone: this URL is disabled' },
      });
      return;
    }
    const attempts = delivery.attempts + 1;
    const delay = retryDelaySeconds(attempts);
    const failure = { lastError: result.error ?? 'no answer', ...(result.status ? { lastStatus: result.status } : {}) };
    if (delay === undefined) {
      logger.error('webhook given up after its retry schedule', { ...log, error: result.error });
      if (!(await updateDelivery(request, delivery.done, { delivery: { status: 'failed', done: delivery.done + 1, attempts, ...failure }, dueAt: Date.now() }))) return;
      continue;
    }
    const nextAttempt = Date.now() + delay * 1000;
    logger.warn('webhook delivery failed; will retry', { ...log, error: result.error, retryInSeconds: delay });
    const recorded = await updateDelivery(request, delivery.done, {
      delivery: { status: 'failing', done: delivery.done, attempts, ...failure, nextAttemptAt: new Date(nextAttempt).toISOString() },
      dueAt: nextAttempt,
    });
    // Within SQS's delay limit the queue brings it back on time; later ones the sweep finds by webhookDueAt.
    if (recorded && delay <= MAX_DELAY_SECONDS) await requestDelivery(request, delay);
    return;
  }
  await requestDelivery(request);
}
