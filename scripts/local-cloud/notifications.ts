import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type ObjectCreatedInfo, s3EventRecord } from '#shared/events/s3-event.ts';

export { encodeS3EventKey, type ObjectCreatedInfo, s3EventRecord } from '#shared/events/s3-event.ts';

/**
 * The bucket notification and the topic it publishes to: ObjectCreated under a prefix → one S3
 * event record in the exact AWS shape (eventVersion 2.1, URL-encoded key, real bucket ARN),
 * delivered as the same raw body to every subscribed queue, as the stack's SNS topic does with raw
 * message delivery (the jobs queue and the uploads-landed queue).
 */

export interface NotificationBridge {
  /** Deliver one ObjectCreated notification (also used to re-drive jobs after a restart). */
  notify(info: ObjectCreatedInfo): Promise<void>;
}

export function createNotificationBridge(options: {
  sqs: SQSClient;
  /** The topic's subscribers: each receives every notification. */
  queueUrls: readonly string[];
  prefix: string;
  region: string;
  /** Called once every subscriber has the message (wakes their consumers). */
  onSent?: () => void;
}): NotificationBridge {
  return {
    async notify(info) {
      if (!info.key.startsWith(options.prefix) || !info.eventName.startsWith('ObjectCreated:')) return;
      const body = JSON.stringify({ Records: [s3EventRecord(info, options.region, 'uploads-to-topic')] });
      await Promise.all(options.queueUrls.map((QueueUrl) => options.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }))));
      options.onSent?.();
    },
  };
}
