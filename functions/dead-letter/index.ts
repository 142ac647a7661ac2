import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseNotification } from '#shared/events/s3-event.ts';
import { failDeadLetteredJob } from '#shared/jobs/dead-letter.ts';
import { logger } from '#shared/logger.ts';
import { jobIdFromUploadKey } from '#shared/storage/keys.ts';

/**
 * The dead-letter queue's consumer: a message lands there after MAX_RECEIVE_COUNT deliveries
 * without being deleted. Each job it names that has not ended is failed with its last error; one
 * still running under a live lease is reported as a batch item failure, to be looked at again.
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
    if (jobId && (await failDeadLetteredJob(jobId)) === 'still-running') {
      throw new StillRunning(`job ${jobId} is still running under its lease`);
    }
  }
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  return processPartialResponse(event, handleDeadLetter, processor, { context, throwOnFullBatchFailure: false });
}
