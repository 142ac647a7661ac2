import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { getConfig } from '../config.ts';
import { parseNotification } from '../events/s3-event.ts';
import { isTerminal } from '../jobs/model.ts';
import { abandonJob, getJob } from '../jobs/store.ts';
import { jobLogger, logger } from '../logger.ts';
import { jobIdFromUploadKey } from '../storage/keys.ts';

/**
 * The dead-letter queue's consumer: a message lands there after MAX_RECEIVE_COUNT deliveries
 * without being deleted. Normally the worker has already ended the job on the final receive; when
 * it could not (a crash or timeout on that delivery, or deliveries used up while the job ran),
 * this ends the job as failed with its last error, so no job waits forever. A job still running
 * under a live lease is looked at again later.
 */

const processor = new BatchProcessor(EventType.SQS);

class StillRunning extends Error {
  override readonly name = 'StillRunning';
}

async function handleDeadLetter(record: SQSRecord): Promise<void> {
  let notification;
  try {
    notification = parseNotification(record.body);
  } catch {
    logger.error('dead-lettered message is not an S3 notification; dropped', { messageId: record.messageId, body: record.body.slice(0, 2000) });
    return;
  }
  if (notification.kind === 'test') return;
  for (const object of notification.objects) {
    const jobId = jobIdFromUploadKey(object.key);
    if (!jobId) continue;
    const job = await getJob(jobId);
    if (!job || isTerminal(job.status)) continue;
    const log = jobLogger(jobId);
    const last = job.lastError;
    const failed = await abandonJob(jobId, {
      code: last?.code ?? 'internal',
      message: `processing gave up after ${getConfig().MAX_RECEIVE_COUNT} deliveries${last ? `: ${last.message}` : ''}`,
    });
    if (failed) {
      log.error('job dead-lettered and failed', { error: failed.error, status: job.status });
    } else if ((await getJob(jobId))?.status === 'running') {
      throw new StillRunning(`job ${jobId} is still running under its lease`);
    }
  }
}

export async function handleDeadLetters(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  return processPartialResponse(event, handleDeadLetter, processor, { context, throwOnFullBatchFailure: false });
}
