import { readFileSync } from 'node:fs';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeS3Key, type Notification, parseNotification, receiveCount } from '#shared/events/s3-event.ts';
import { JOB_ID_PATTERN, jobIdFromUploadKey, resultKey, uploadKey } from '#shared/storage/keys.ts';
import { encodeS3EventKey, s3EventRecord } from '../../scripts/local-cloud/notifications.ts';

/** An SQS message body as the jobs queue receives it from the bucket notification. */
const body = (name: string) => readFileSync(new URL(`../fixtures/s3-events/${name}.json`, import.meta.url), 'utf8');

function objectsOf(notification: Notification) {
  if (notification.kind !== 'objects') throw new Error(`expected object records, got ${notification.kind}`);
  return notification.objects;
}

const BUCKET = 'inference-uploads-123456789012';
const JOB_ID = '3f2b8c1e-7a4d-4e9b-9c0a-1d2e3f4a5b6c';

function sqsRecord(messageBody: string, attributes: Partial<SQSRecord['attributes']> = {}): SQSRecord {
  return {
    messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
    receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...',
    body: messageBody,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1710408413589',
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: '1710408413600',
      ...attributes,
    },
    messageAttributes: {},
    md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:jobs',
    awsRegion: 'eu-west-1',
  };
}

describe('parseNotification on recorded S3 notifications', () => {
  it('reads an ordinary upload: bucket, key, size, event name and time', () => {
    expect(objectsOf(parseNotification(body('put-upload')))).toEqual([
      {
        bucket: BUCKET,
        key: `uploads/${JOB_ID}`,
        size: 482113,
        eventName: 'ObjectCreated:Put',
        eventTime: '2025-03-14T09:26:53.589Z',
      },
    ]);
  });

  it('maps an ordinary upload back to its job', () => {
    const [object] = objectsOf(parseNotification(body('put-upload')));
    expect(jobIdFromUploadKey(object!.key)).toBe(JOB_ID);
  });

  it('decodes spaces written as + and percent-encoded UTF-8 in the key', () => {
    const [object] = objectsOf(parseNotification(body('put-spaces-and-unicode')));
    expect(object!.key).toBe('uploads/café photo (1).jpg');
  });

  it('decodes a literal plus written as %2B, not as a space', () => {
    const [object] = objectsOf(parseNotification(body('put-literal-plus')));
    expect(object!.key).toBe('uploads/c++ vs a+b=c.png');
  });

  it('recognises the s3:TestEvent S3 sends when the notification is configured', () => {
    expect(parseNotification(body('test-event'))).toEqual({ kind: 'test' });
  });

  it('keeps ObjectCreated records and filters out ObjectRemoved ones', () => {
    const objects = objectsOf(parseNotification(body('removed-and-created')));
    expect(objects.map((o) => o.eventName)).toEqual(['ObjectCreated:CompleteMultipartUpload']);
    expect(objects[0]!.key).toBe('uploads/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9');
  });

  it('returns no objects for a notification of removals only', () => {
    const only = JSON.parse(body('removed-and-created')) as { Records: unknown[] };
    const removals = JSON.stringify({ Records: [only.Records[0]] });
    expect(parseNotification(removals)).toEqual({ kind: 'objects', objects: [] });
  });

  it('throws for an SNS envelope (a body that is not an S3 notification)', () => {
    expect(() => parseNotification(body('sns-envelope'))).toThrow();
  });

  it('throws for records from another event source', () => {
    const record = JSON.parse(body('put-upload')) as { Records: { eventSource: string }[] };
    record.Records[0]!.eventSource = 'aws:sqs';
    expect(() => parseNotification(JSON.stringify(record))).toThrow();
  });

  it('throws for an empty Records list, a bare object and text that is not JSON', () => {
    expect(() => parseNotification('{"Records":[]}')).toThrow();
    expect(() => parseNotification('{}')).toThrow();
    expect(() => parseNotification('hello')).toThrow(SyntaxError);
  });
});

describe('decodeS3Key', () => {
  it('turns + into a space', () => {
    expect(decodeS3Key('uploads/red+flower.jpg')).toBe('uploads/red flower.jpg');
  });

  it('turns %2B into a literal +', () => {
    expect(decodeS3Key('uploads/a%2Bb')).toBe('uploads/a+b');
  });

  it('decodes multi-byte UTF-8', () => {
    expect(decodeS3Key('uploads/%E6%97%A5%E6%9C%AC+%F0%9F%98%80')).toBe('uploads/日本 😀');
  });

  it('leaves a key with nothing encoded as it is', () => {
    expect(decodeS3Key(`uploads/${JOB_ID}`)).toBe(`uploads/${JOB_ID}`);
  });
});

describe('receiveCount', () => {
  it('is the ApproximateReceiveCount SQS reports', () => {
    expect(receiveCount(sqsRecord(body('put-upload'), { ApproximateReceiveCount: '4' }))).toBe(4);
  });

  it('is 1 on a first delivery', () => {
    expect(receiveCount(sqsRecord(body('put-upload')))).toBe(1);
  });

  it('counts as a first delivery when the attribute is missing or not a number', () => {
    const missing = sqsRecord(body('put-upload'));
    delete (missing.attributes as Partial<SQSRecord['attributes']>).ApproximateReceiveCount;
    expect(receiveCount(missing)).toBe(1);
    expect(receiveCount(sqsRecord(body('put-upload'), { ApproximateReceiveCount: 'many' }))).toBe(1);
  });
});

describe('object keys', () => {
  it('puts an upload at uploads/<jobId> and a result at results/<jobId>.json', () => {
    expect(uploadKey(JOB_ID)).toBe(`uploads/${JOB_ID}`);
    expect(resultKey(JOB_ID)).toBe(`results/${JOB_ID}.json`);
  });

  it('maps an upload key back to its job id', () => {
    expect(jobIdFromUploadKey(uploadKey(JOB_ID))).toBe(JOB_ID);
  });

  it('ignores keys this service did not hand out', () => {
    for (const key of [
      'uploads/café photo (1).jpg',
      resultKey(JOB_ID),
      JOB_ID,
      `uploads/${JOB_ID.toUpperCase()}`,
      `uploads/${JOB_ID}/extra`,
      `uploads/${JOB_ID}.jpg`,
      `other/uploads/${JOB_ID}`,
      'uploads/',
    ]) {
      expect(jobIdFromUploadKey(key), key).toBeUndefined();
    }
  });

  it('accepts lower-case UUIDs as job ids and nothing looser', () => {
    expect(JOB_ID_PATTERN.test(JOB_ID)).toBe(true);
    expect(JOB_ID_PATTERN.test(` ${JOB_ID}`)).toBe(false);
    expect(JOB_ID_PATTERN.test(JOB_ID.replace(/-/g, ''))).toBe(false);
  });
});

describe('the local notification bridge against the real shape', () => {
  const TRICKY_KEYS = [
    `uploads/${JOB_ID}`,
    'uploads/café photo (1).jpg',
    'uploads/c++ vs a+b=c.png',
    'uploads/100% real!.jpg',
    "uploads/it's *starred* ~tilde~.gif",
    'uploads/日本語/画像.webp',
    'uploads/emoji 😀 ☃.png',
    'uploads/%2B already encoded %20.png',
    'uploads/  two leading spaces and a trailing one ',
    'uploads/a//double/slash',
    'uploads/q?x=1&y=2#frag;semi:colon@at,comma$dollar',
    'uploads/tab\tand\nnewline',
  ];

  it('encodes keys as S3 does: + for spaces, %2B for a plus, UTF-8 percent-encoded, slashes kept', () => {
    expect(encodeS3EventKey('uploads/café photo (1).jpg')).toBe('uploads/caf%C3%A9+photo+%281%29.jpg');
    expect(encodeS3EventKey('uploads/c++ vs a+b=c.png')).toBe('uploads/c%2B%2B+vs+a%2Bb%3Dc.png');
    expect(encodeS3EventKey('uploads/a/b')).toBe('uploads/a/b');
  });

  it('gives back the original key after encode then parse, for tricky keys', () => {
    for (const key of TRICKY_KEYS) {
      const record = s3EventRecord({ bucket: BUCKET, key, size: 10, eventName: 'ObjectCreated:Put' }, 'eu-west-1', 'cfg');
      const [object] = objectsOf(parseNotification(JSON.stringify({ Records: [record] })));
      expect(object!.key, JSON.stringify(key)).toBe(key);
      expect(decodeS3Key(encodeS3EventKey(key)), JSON.stringify(key)).toBe(key);
    }
  });

  it('never writes a space or an unencoded plus into an encoded key', () => {
    for (const key of TRICKY_KEYS) {
      const encoded = encodeS3EventKey(key);
      expect(encoded, JSON.stringify(key)).not.toMatch(/[ \t\n]/);
      expect(encoded.split('+').length - 1, JSON.stringify(key)).toBe(key.split(' ').length - 1);
    }
  });

  it('builds records with the same fields, at every level, as a recorded AWS notification', () => {
    const recorded = (JSON.parse(body('put-upload')) as { Records: unknown[] }).Records[0];
    const generated = s3EventRecord(
      { bucket: BUCKET, key: `uploads/${JOB_ID}`, size: 482113, eTag: '"9b2cf535f27731c974343645a3985328"', eventName: 'ObjectCreated:Put' },
      'eu-west-1',
      'uploads-to-jobs-queue',
    );
    const shape = (value: unknown): unknown =>
      value && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k])]))
        : typeof value;
    expect(shape(generated)).toEqual(shape(recorded));
  });

  it('writes eventVersion 2.1, the bucket ARN, an unquoted eTag and the object size', () => {
    const record = s3EventRecord(
      { bucket: BUCKET, key: 'uploads/x', size: 99, eTag: '"abc123"', eventName: 'ObjectCreated:Put' },
      'eu-west-1',
      'cfg',
    );
    expect(record.eventVersion).toBe('2.1');
    expect(record.eventSource).toBe('aws:s3');
    expect(record.awsRegion).toBe('eu-west-1');
    expect(record.s3.s3SchemaVersion).toBe('1.0');
    expect(record.s3.bucket.arn).toBe(`arn:aws:s3:::${BUCKET}`);
    expect(record.s3.object).toMatchObject({ key: 'uploads/x', size: 99, eTag: 'abc123' });
    expect(Number.isNaN(Date.parse(record.eventTime))).toBe(false);
  });
});
