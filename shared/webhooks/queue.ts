import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { sqsClient } from '../aws.ts';
import { getConfig } from '../config.ts';
import { logger } from '../logger.ts';

/**
 * The delivery queue: a message `{kind, id}` asks the delivery function to look at an item's
 * outbox now (or after `delaySeconds`, for a retry within SQS's 15-minute delay limit). Sending is
 * a nudge, not the record: the event is already on the item with its due time, so a lost message
 * costs at most a sweep interval (the sweep re-sends what is due).
 */

export interface DeliveryRequest {
  kind: 'job' | 'batch';
  id: string;
}

/** SQS's longest per-message delay. */
export const MAX_DELAY_SECONDS = 900;

export async function requestDelivery(request: DeliveryRequest, delaySeconds = 0): Promise<void> {
  const queueUrl = getConfig().WEBHOOK_QUEUE_URL;
  if (!queueUrl) return;
  try {
    await sqsClient().send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(request),
        ...(delaySeconds > 0 ? { DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.round(delaySeconds)) } : {}),
      }),
    );
  } catch (error) {
    // The sweep finds the item by its due time; this only makes delivery wait for it.
    logger.warn('could not request a webhook delivery; the sweep will', { ...request, error: error as Error });
  }
}

/** Many at once (the sweep), ten per SQS call. */
export async function requestDeliveries(requests: readonly DeliveryRequest[]): Promise<void> {
  const queueUrl = getConfig().WEBHOOK_QUEUE_URL;
  if (!queueUrl) return;
  for (let i = 0; i < requests.length; i += 10) {
    const entries = requests.slice(i, i + 10).map((request, n) => ({ Id: String(n), MessageBody: JSON.stringify(request) }));
    await sqsClient().send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
}
