import { randomBytes } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * The bucket notification: ObjectCreated under a prefix → one SQS message holding an S3 event
 * record in the exact AWS shape (eventVersion 2.1, URL-encoded key, real bucket ARN).
 */

/** S3 notifications URL-encode keys form-style: spaces as `+`, slashes kept, the rest percent-encoded. */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface ObjectCreatedInfo {
  bucket: string;
  key: string;
  size: number;
  eTag?: string;
  eventName: string;
  sourceIp?: string;
}

export function s3EventRecord(info: ObjectCreatedInfo, region: string, configurationId: string) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: new Date().toISOString(),
    eventName: info.eventName,
    userIdentity: { principalId: 'AWS:LOCALCLOUDUSER' },
    requestParameters: { sourceIPAddress: info.sourceIp ?? '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-amz-id-2': randomBytes(32).toString('base64'),
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId,
      bucket: { name: info.bucket, ownerIdentity: { principalId: 'LOCALCLOUDOWNER' }, arn: `arn:aws:s3:::${info.bucket}` },
      object: {
        key: encodeS3EventKey(info.key),
        size: info.size,
        ...(info.eTag ? { eTag: info.eTag.replace(/"/g, '') } : {}),
        sequencer: Date.now().toString(16).toUpperCase().padStart(16, '0'),
      },
    },
  };
}

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
