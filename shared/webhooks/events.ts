import { z } from 'zod';

/**
 * What a client can subscribe to, and the subscription a job or batch carries. A leaf: the jobs
 * module and the webhooks module both use it without importing each other.
 */

export const JOB_WEBHOOK_EVENTS = ['job.running', 'job.succeeded', 'job.failed', 'job.canceled', 'job.expired'] as const;
export const WEBHOOK_EVENTS = [...JOB_WEBHOOK_EVENTS, 'batch.completed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Without `events`, a subscription gets the terminal ones. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventType[] = ['job.succeeded', 'job.failed', 'job.canceled', 'job.expired', 'batch.completed'];

/** A URL's longest accepted length (it is stored on every job of a subscription). */
export const WEBHOOK_URL_MAX_LENGTH = 2048;

export const WebhookRequest = z
  .object({
    url: z.url({ protocol: /^https?$/ }).max(WEBHOOK_URL_MAX_LENGTH),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional(),
  })
  .strict();
export type WebhookRequest = z.infer<typeof WebhookRequest>;

export interface WebhookSubscription {
  url: string;
  events: WebhookEventType[];
}

export function subscriptionOf(request: WebhookRequest): WebhookSubscription {
  return { url: request.url, events: [...new Set(request.events ?? DEFAULT_WEBHOOK_EVENTS)].sort() as WebhookEventType[] };
}

/** The partition of the byWebhookDue index every item with a webhook is in (see TABLE_SCHEMA.webhookIndex). */
export const WEBHOOK_SHARD = 'due';

/** Delivery state of an item that has a webhook and nothing sent yet. */
export const IDLE_DELIVERY: DeliveryState = { status: 'idle', done: 0, attempts: 0 };

/** One thing that happened to a job or a batch, kept on its item: the outbox webhooks are delivered from. */
export interface LifecycleEvent {
  /** `evt_…`: sent as `webhook-id`, the same on every retry of this event. */
  id: string;
  type: WebhookEventType;
  /** When it happened (ISO 8601). */
  at: string;
}

/** Where delivery of an item's events stands: shown on the job as `webhook`. */
export interface DeliveryState {
  /** idle: nothing to send yet; pending: an event waits; failing: retrying; failed: gave up; disabled: the URL answered 410. */
  status: 'idle' | 'pending' | 'delivered' | 'failing' | 'failed' | 'disabled';
  /** Events (in the item's `events` list) already delivered or given up on. */
  done: number;
  /** Attempts at the current event. */
  attempts: number;
  lastStatus?: number;
  lastError?: string;
  nextAttemptAt?: string;
  /** Epoch ms until which one deliverer holds the item (one send at a time per item, so events go in order). */
  sendingUntil?: number;
}
