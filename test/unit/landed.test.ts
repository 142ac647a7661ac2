import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readLandedMessage } from '../../functions/landed/uploads.ts';
import { s3EventRecord } from '../../scripts/local-cloud/notifications.ts';

/**
 * The uploads-landed consumer reads the same raw S3 notification the jobs queue gets, for the jobs
 * whose uploads landed: recorded AWS notifications (test/fixtures/s3-events) and the local cloud's own.
 */

const body = (name: string) => readFileSync(new URL(`../fixtures/s3-events/${name}.json`, import.meta.url), 'utf8');

describe('readLandedMessage', () => {
  it('names the job of an ordinary upload', () => {
    expect(readLandedMessage(body('put-upload'))).toEqual({ kind: 'uploads', jobIds: ['3f2b8c1e-7a4d-4e9b-9c0a-1d2e3f4a5b6c'], foreignKeys: [] });
  });

  it('takes the created object of a mixed notification and ignores the removal', () => {
    expect(readLandedMessage(body('removed-and-created'))).toEqual({ kind: 'uploads', jobIds: ['5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9'], foreignKeys: [] });
  });

  it('ignores keys under uploads/ that no job was given, reporting them decoded', () => {
    expect(readLandedMessage(body('put-literal-plus'))).toEqual({ kind: 'uploads', jobIds: [], foreignKeys: ['uploads/c++ vs a+b=c.png'] });
    expect(readLandedMessage(body('put-spaces-and-unicode'))).toEqual({ kind: 'uploads', jobIds: [], foreignKeys: ['uploads/café photo (1).jpg'] });
  });

  it('ignores keys outside uploads/ even when they hold a job id', () => {
    const jobId = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const record = s3EventRecord({ bucket: 'b', key: `results/${jobId}`, size: 1, eventName: 'ObjectCreated:Put' }, 'eu-west-1', 'c');
    expect(readLandedMessage(JSON.stringify({ Records: [record] }))).toEqual({ kind: 'uploads', jobIds: [], foreignKeys: [`results/${jobId}`] });
  });

  it('names a job once when a notification repeats its upload', () => {
    const jobId = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const record = s3EventRecord({ bucket: 'b', key: `uploads/${jobId}`, size: 1, eventName: 'ObjectCreated:Put' }, 'eu-west-1', 'c');
    expect(readLandedMessage(JSON.stringify({ Records: [record, record] }))).toEqual({ kind: 'uploads', jobIds: [jobId], foreignKeys: [] });
  });

  it('recognizes the s3:TestEvent sent when the notification is configured', () => {
    expect(readLandedMessage(body('test-event'))).toEqual({ kind: 'test' });
  });

  it('calls an SNS envelope (a subscription without raw delivery) and non-JSON malformed', () => {
    expect(readLandedMessage(body('sns-envelope')).kind).toBe('malformed');
    expect(readLandedMessage('not json').kind).toBe('malformed');
  });
});
