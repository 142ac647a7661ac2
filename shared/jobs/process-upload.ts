import type { Logger } from '@aws-lambda-powertools/logger';
import { getConfig, LIMITS } from '../config.ts';
import { JobFailure, toJobFailure } from '../errors.ts';
import { findModel } from '../inference/catalog.ts';
import { runModel } from '../inference/runners.ts';
import { jobLogger } from '../logger.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metrics } from '../metrics.ts';
import { putResult, readUpload } from '../storage/objects.ts';
import { transition } from './lifecycle.ts';
import type { Job } from './model.ts';
import { getJob } from './store.ts';

/**
 * One uploaded object through its job's life: claim → read → validate → infer → record.
 * Permanent failures end the job at once; transient ones release it and throw, so SQS redelivers
 * the message; on the final receive a transient failure is recorded as final, so no job is left
 * `running`.
 */

export interface Delivery {
  /** The SQS message carrying the notification. */
  messageId: string;
  /** SQS ApproximateReceiveCount of this delivery. */
  receiveCount: number;
  /** Epoch ms by which the work must be done (the invocation's deadline, less a margin). */
  deadline: number;
  /** When the upload landed (the notification's eventTime), for the queue-wait metric. */
  uploadedAt?: number;
}

export type Outcome = 'succeeded' | 'failed' | 'skipped' | 'retry';

export async function processUpload(jobId: string, delivery: Delivery): Promise<Outcome> {
  const log = jobLogger(jobId);
  const config = getConfig();
  // Identifies this delivery, so a stale worker's writes are refused once another has claimed the job.
  const claimId = `${delivery.messageId}#${delivery.receiveCount}`;
  // The read starts with the claim (two round trips in parallel, not in a row); if the job is not
  // claimed the bytes are dropped. Its failure is handled where it is awaited, in runJob.
  const upload = readUpload(jobId, config.MAX_UPLOAD_BYTES);
  upload.catch(() => undefined);
  const job = await transition(jobId, { type: 'claim', claimId, leaseMs: config.JOB_LEASE_SECONDS * 1000 });
  if (!job) {
    const current = await getJob(jobId);
    const holder = current?.status === 'running' ? current.claimId : undefined;
    if (holder?.startsWith(`${delivery.messageId}#`)) {
      // This very message is still being worked on (it became visible again): keep it until that work ends.
      log.info('message redelivered while its job runs; will look again');
      return 'retry';
    }
    // A duplicate S3 event, a redelivery of a finished job, or another message's worker holds a live lease.
    log.info('not claimed', { status: current?.status ?? 'missing' });
    return 'skipped';
  }
  log.info('claimed', { attempt: job.attempts, receiveCount: delivery.receiveCount, model: job.model });
  const claimedAt = Date.now();
  if (delivery.uploadedAt) metrics.addMetric('QueueWait', MetricUnit.Milliseconds, Math.max(0, claimedAt - delivery.uploadedAt));

  try {
    const result = await withDeadline(runJob(job, upload, delivery.deadline, log), delivery.deadline);
    const serialized = JSON.stringify(result);
    const resultBytes = Buffer.byteLength(serialized);
    const outcome =
      resultBytes > LIMITS.RESULT_INLINE_MAX_BYTES
        ? { resultKey: await putResult(jobId, serialized) }
        : { result };
    const done = await transition(jobId, { type: 'complete', claimId, outcome });
    log.info(done ? 'succeeded' : 'result discarded: job canceled or claimed by another worker', {
      resultBytes,
      inline: 'result' in outcome,
    });
    if (done) {
      metrics.addMetric('JobSucceeded', MetricUnit.Count, 1);
      metrics.addMetric('ProcessingTime', MetricUnit.Milliseconds, Date.now() - claimedAt);
      metrics.addMetric('EndToEndTime', MetricUnit.Milliseconds, Date.now() - Date.parse(job.createdAt));
    }
    return done ? 'succeeded' : 'skipped';
  } catch (caught) {
    const failure = toJobFailure(caught);
    const error = { code: failure.code, message: failure.message };
    const final = failure.permanent || delivery.receiveCount >= config.MAX_RECEIVE_COUNT;
    if (final) {
      await transition(jobId, { type: 'fail', claimId, error });
      log.warn('failed', { error, permanent: failure.permanent, receiveCount: delivery.receiveCount });
      metrics.addMetric('JobFailed', MetricUnit.Count, 1);
      const byCode = metrics.singleMetric();
      byCode.addDimension('code', failure.code);
      byCode.addMetric('JobFailedByCode', MetricUnit.Count, 1);
      return 'failed';
    }
    await transition(jobId, { type: 'release', claimId, lastError: error });
    metrics.addMetric('JobRetried', MetricUnit.Count, 1);
    log.warn('transient failure, will retry', { error, receiveCount: delivery.receiveCount, cause: String(failure.cause ?? '') });
    return 'retry';
  }
}

async function runJob(job: Job, upload: Promise<Buffer>, deadline: number, log: Logger) {
  const entry = findModel(job.model);
  if (!entry?.available) {
    throw JobFailure.permanent('model_error', `model ${job.model} is ${entry ? `unavailable: ${entry.unavailableReason}` : 'not served'}`);
  }
  const bytes = await upload;
  if (bytes.length !== job.contentLength) {
    throw JobFailure.permanent('upload_mismatch', `the upload is ${bytes.length} bytes; the job declared ${job.contentLength}`);
  }
  return runModel(entry, { jobId: job.jobId, bytes, params: job.params ?? {}, deadline, log });
}

/** Fails with a transient `timeout` if the work outlives the invocation's deadline. */
async function withDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(JobFailure.transient('timeout', 'processing did not finish within the worker timeout')),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
