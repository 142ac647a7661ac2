import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * What the jobs queue carries: S3 event notifications (eventVersion 2.x), or the one-off
 * `s3:TestEvent` S3 sends when the notification is configured. Validated at the edge.
 */

const S3RecordSchema = z.object({
  eventVersion: z.string(),
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  eventTime: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string(), arn: z.string().optional() }),
    object: z.object({
      /** URL-encoded, with spaces as `+`. */
      key: z.string(),
      size: z.number().optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

const NotificationSchema = z.union([
  z.object({ Event: z.literal('s3:TestEvent'), Bucket: z.string().optional() }).loose(),
  z.object({ Records: z.array(S3RecordSchema).min(1) }).loose(),
]);

export interface ObjectCreated {
  bucket: string;
  /** Decoded object key. */
  key: string;
  size?: number;
  eventName: string;
  eventTime: string;
}

export type Notification = { kind: 'test' } | { kind: 'objects'; objects: ObjectCreated[] };

/** S3 URL-encodes keys in notifications and writes spaces as `+`. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Parse one SQS message body; throws a ZodError (or SyntaxError) for anything else. */
export function parseNotification(body: string): Notification {
  const parsed = NotificationSchema.parse(JSON.parse(body));
  if ('Event' in parsed) return { kind: 'test' };
  return {
    kind: 'objects',
    objects: parsed.Records.filter((r) => r.eventName.startsWith('ObjectCreated:')).map((r) => ({
      bucket: r.s3.bucket.name,
      key: decodeS3Key(r.s3.object.key),
      size: r.s3.object.size,
      eventName: r.eventName,
      eventTime: r.eventTime,
    })),
  };
}

/** How many times SQS has delivered this message, this delivery included. */
export function receiveCount(record: { attributes: { ApproximateReceiveCount?: string } }): number {
  return Number(record.attributes.ApproximateReceiveCount) || 1;
}

/**
 * The record S3 sends on ObjectCreated, in its exact shape (eventVersion 2.1, URL-encoded key,
 * real bucket ARN): the local cloud's bucket notification, and the sweep's re-notification of a
 * job whose own was lost.
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
