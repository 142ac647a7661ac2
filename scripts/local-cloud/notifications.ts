import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type ObjectCreatedInfo, s3EventRecord } from '#shared/events/s3-event.ts';

export { encodeS3EventKey, type ObjectCreatedInfo, s3EventRecord } from '#shared/events/s3-event.ts';

/**
 * The bucket notification: ObjectCreated under a prefix → one SQS message holding an S3 event
 * record in the exact AWS shape (eventVersion 2.1, URL-encoded key, real bucket ARN).
 */

export interface NotificationBridge {
  /** Deliver one ObjectCreated notification (also used to re-drive jobs after a restart). */
  notify(info: ObjectCreatedInfo): Promise<void>;
}

export function createNotificationBridge(options: {
  sqs: SQSClient;
  queueUrl: string;
  prefix: string;
  region: string;
  onSent?: () => void;
}): NotificationBridge {
  return {
    async notify(info) {
      if (!info.key.startsWith(options.prefix) || !info.eventName.startsWith('ObjectCreated:')) return;
      const body = JSON.stringify({ Records: [s3EventRecord(info, options.region, 'uploads-to-jobs-queue')] });
      await options.sqs.send(new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: body }));
      options.onSent?.();
    },
  };
}
