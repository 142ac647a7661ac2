import { updateIf } from '../aws.ts';
import type { DeliveryState, LifecycleEvent } from './events.ts';
import type { DeliveryRequest } from './queue.ts';

/**
 * The outbox's bookkeeping on a job or batch item: how far delivery has got (`delivery.done`
 * events), and when it should run next (`webhookDueAt`, the byWebhookDue index's sort key). Every
 * write is conditional on `delivery.done` being what the writer read, so two deliverers of one
 * item (a duplicate message, the sweep) never skip or double-count an event; at worst one event
 * is sent twice, which at-least-once allows and the unchanged `webhook-id` lets receivers ignore.
 */

const keyOf = (request: DeliveryRequest) => ({ pk: `${request.kind}#${request.id}` });

/** What an outbox write changes. `dueAt` undefined removes the item from the delivery index. */
export interface DeliveryUpdate {
  delivery: DeliveryState;
  dueAt?: number;
}

/** Write the new delivery state if `delivery.done` is still `expectedDone`; false when another writer got there first. */
export async function updateDelivery(request: DeliveryRequest, expectedDone: number, update: DeliveryUpdate): Promise<boolean> {
  return updateIf({
    Key: keyOf(request),
    UpdateExpression:
      update.dueAt === undefined ? 'SET #delivery = :delivery REMOVE #dueAt' : 'SET #delivery = :delivery, #dueAt = :dueAt',
    ConditionExpression: 'attribute_exists(pk) AND #delivery.#done = :expectedDone',
    ExpressionAttributeNames: { '#delivery': 'delivery', '#done': 'done', '#dueAt': 'webhookDueAt' },
    ExpressionAttributeValues: {
      ':delivery': update.delivery,
      ':expectedDone': expectedDone,
      ...(update.dueAt === undefined ? {} : { ':dueAt': update.dueAt }),
    },
  });
}

/**
 * Take the item for one send: one deliverer at a time per item, so its events go out in order and
 * a nudge racing a retry does not send the same event twice. The hold lapses by itself (a deliverer
 * that crashed); every later delivery write drops it.
 */
export async function holdForSending(request: DeliveryRequest, expectedDone: number, until: number, now: number): Promise<boolean> {
  return updateIf({
    Key: keyOf(request),
    UpdateExpression: 'SET #delivery.#until = :until',
    ConditionExpression: 'attribute_exists(pk) AND #delivery.#done = :expectedDone AND (attribute_not_exists(#delivery.#until) OR #delivery.#until < :now)',
    ExpressionAttributeNames: { '#delivery': 'delivery', '#done': 'done', '#until': 'sendingUntil' },
    ExpressionAttributeValues: { ':until': until, ':expectedDone': expectedDone, ':now': now },
  });
}

/**
 * Everything delivered: leave the index, unless an event arrived since the read (the list grew):
 * then it stays due and the next run sends it.
 */
export async function settleOutbox(request: DeliveryRequest, eventsSeen: number, delivery: DeliveryState): Promise<boolean> {
  return updateIf({
    Key: keyOf(request),
    UpdateExpression: 'SET #delivery = :delivery REMOVE #dueAt',
    ConditionExpression: 'attribute_exists(pk) AND #delivery.#done = :done AND size(#events) = :seen',
    ExpressionAttributeNames: { '#delivery': 'delivery', '#done': 'done', '#dueAt': 'webhookDueAt', '#events': 'events' },
    ExpressionAttributeValues: { ':delivery': delivery, ':done': delivery.done, ':seen': eventsSeen },
  });
}

/** A batch's jobs have all ended: record batch.completed once (the first writer wins). */
export async function recordBatchCompleted(batchId: string, now: number, event: LifecycleEvent): Promise<boolean> {
  return updateIf({
    Key: { pk: `batch#${batchId}` },
    UpdateExpression: 'SET completedAt = :at, #events = list_append(if_not_exists(#events, :none), :event), webhookDueAt = :now',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(completedAt)',
    ExpressionAttributeNames: { '#events': 'events' },
    ExpressionAttributeValues: { ':at': new Date(now).toISOString(), ':event': [event], ':none': [], ':now': now },
  });
}

/** An open batch not yet complete: look again later. */
export async function postponeBatchCheck(batchId: string, dueAt: number): Promise<void> {
  await updateIf({
    Key: { pk: `batch#${batchId}` },
    UpdateExpression: 'SET webhookDueAt = :dueAt',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(completedAt)',
    ExpressionAttributeValues: { ':dueAt': dueAt },
  });
}

/** Replay an item's latest event (POST …/webhook/redeliver): it becomes due now. */
export async function reopenLastEvent(request: DeliveryRequest, eventCount: number, now: number): Promise<void> {
  await updateIf({
    Key: keyOf(request),
    UpdateExpression: 'SET #delivery = :delivery, webhookDueAt = :now',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#delivery': 'delivery' },
    ExpressionAttributeValues: { ':delivery': { status: 'pending', done: Math.max(0, eventCount - 1), attempts: 0 }, ':now': now },
  });
}
