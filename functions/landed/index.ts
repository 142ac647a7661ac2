import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { transition } from '#shared/jobs/lifecycle.ts';
import { logger } from '#shared/logger.ts';
import { readLandedMessage } from './uploads.ts';

/**
 * The uploads-landed queue's consumer: the bucket's ObjectCreated notification (uploads/) reaches
 * this queue beside the jobs queue, and each job it names moves awaiting_upload → queued
 * (`uploadLanded`), so a job whose upload landed says so while its message still waits for a
 * worker. A refused transition is the normal race: the worker claimed it first, or the job ended.
 */

const processor = new BatchProcessor(EventType.SQS);

async function markLanded(record: SQSRecord): Promise<void> {
  const message = readLandedMessage(record.body);
  switch (message.kind) {
    case 'malformed':
      // Redelivery cannot fix it; the worker's copy of the same message goes to its DLQ for a person to see.
      logger.error('uploads-landed message is not an S3 notification; dropped', { messageId: record.messageId, reason: message.reason });
      return;
    case 'test':
      return;
    case 'uploads':
      if (message.foreignKeys.length > 0) logger.warn('objects under uploads/ that belong to no job; ignored', { keys: message.foreignKeys });
      for (const jobId of message.jobIds) {
        const job = await transition(jobId, { type: 'uploadLanded' });
        if (!job) logger.debug('job already past awaiting_upload (or gone); nothing to do', { jobId });
      }
  }
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  return processPartialResponse(event, markLanded, processor, { context, throwOnFullBatchFailure: false });
}
