import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { describePreset } from '#shared/inference/gemini/presets/describe.ts';
import type { Job } from '#shared/jobs/model.ts';
import { getJob } from '#shared/jobs/store.ts';
import { type FakeGemini, reply, startFakeGemini } from '../helpers/fake-gemini.ts';
import { RED, twoTone, WHITE } from '../helpers/images.ts';
import { LOCAL_RESOURCES } from '../../scripts/local-cloud/cloud.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';
import { until } from '../helpers/waiting.ts';

/**
 * An upload that landed shows `queued` (or later) whether or not anyone reads the job, driven by
 * the storage event: the notification reaches the uploads-landed queue beside the jobs queue, and
 * its consumer moves the job on while the job's own message still waits for a worker.
 */

const API_KEY = 'test-key';
/** The worker takes one message at a time in at most this many invocations... */
const WORKER_CONCURRENCY = 2;
/** ...each held this long by the model, so the jobs beyond the first two wait in the queue. */
const MODEL_DELAY_MS = 4_000;
const JOBS = WORKER_CONCURRENCY + 3;

let t: TestCloud;
let gemini: FakeGemini;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: API_KEY });
  t = await startTestCloud({
    worker: { batchSize: 1, maxConcurrency: WORKER_CONCURRENCY, visibilityTimeoutSeconds: 60 },
    env: {
      GEMINI_API_KEY: API_KEY,
      GEMINI_BASE_URL: gemini.url,
      GEMINI_MODEL_FAST: 'fake-flash-lite',
      GEMINI_MODEL_BALANCED: 'fake-flash',
      GEMINI_MODEL_ACCURATE: 'fake-pro',
      GEMINI_CALL_TIMEOUT_MS: '20000',
    },
  });
});

afterAll(async () => {
  await t?.stop();
  await gemini?.close();
});


it('marks every landed upload queued while the worker is still busy with others', async () => {
  gemini.script(...Array.from({ length: JOBS }, () => ({ ...reply.answer(describePreset.example), delayMs: MODEL_DELAY_MS })));
  const image = await twoTone('jpeg', 64, 48, RED, WHITE);
  const jobIds: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length, model: 'gemini/describe' });
    expect((await getJob(job.jobId))?.status).toBe('awaiting_upload');
    await uploadToPresignedUrl(job.upload, image);
    jobIds.push(job.jobId);
  }

  // Straight from the table: nothing here reads the job through the API.
  const landed = await until(async () => {
    const jobs = await Promise.all(jobIds.map(async (jobId) => (await getJob(jobId))!));
    return jobs.every((job) => job.status !== 'awaiting_upload') ? jobs : undefined;
  }, 'every upload to be marked landed');

  // Some are still unclaimed: only the storage event can have moved them.
  const unclaimed = landed.filter((job: Job) => job.status === 'queued' && job.attempts === 0 && job.claimId === undefined);
  expect(unclaimed.length).toBeGreaterThan(0);
  expect(landed.every((job) => ['queued', 'running', 'succeeded'].includes(job.status))).toBe(true);
  expect(t.cloud.eventSources.get(LOCAL_RESOURCES.landedQueue)!.stats.failures).toBe(0);

  // The worker still gets every job's message and finishes it.
  for (const jobId of jobIds) {
    expect((await t.client.waitForJob(jobId, { timeoutMs: 45_000, minIntervalMs: 100 })).status).toBe('succeeded');
  }
}, 90_000);

it('takes an object under uploads/ that belongs to no job, and a repeated notification of an ended job, without a failure', async () => {
  const landedQueue = t.cloud.eventSources.get(LOCAL_RESOURCES.landedQueue)!;
  const consumed = async (before: number) => {
    await until(async () => (landedQueue.stats.records > before ? true : undefined), 'the uploads-landed consumer to take the message');
    await landedQueue.idle();
  };
  const failuresBefore = landedQueue.stats.failures;

  const { endpoints } = t.cloud;
  const s3 = new S3Client({ region: endpoints.region, endpoint: endpoints.s3, forcePathStyle: true, credentials: endpoints.credentials });
  let before = landedQueue.stats.records;
  await s3.send(new PutObjectCommand({ Bucket: endpoints.bucket, Key: 'uploads/not-a-job.png', Body: 'x' }));
  s3.destroy();
  await consumed(before);

  gemini.script(reply.answer(describePreset.example));
  const image = await twoTone('jpeg', 64, 48, RED, WHITE);
  const job = await t.client.createJob({ contentType: 'image/jpeg', contentLength: image.length, model: 'gemini/describe' });
  await uploadToPresignedUrl(job.upload, image);
  expect((await t.client.waitForJob(job.jobId, { timeoutMs: 30_000, minIntervalMs: 50 })).status).toBe('succeeded');
  before = landedQueue.stats.records;
  await t.cloud.notifyUpload(`uploads/${job.jobId}`);
  await consumed(before);

  // Refused transitions are the normal race, not errors: nothing is retried, and the job stays ended.
  expect(landedQueue.stats.failures).toBe(failuresBefore);
  expect((await getJob(job.jobId))?.status).toBe('succeeded');
});
