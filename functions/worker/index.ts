import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseNotification, receiveCount } from '#shared/events/s3-event.ts';
import { ensureCatalog } from '#shared/inference/catalog.ts';
import { warmUpDefaultModel } from '#shared/inference/runners.ts';
import { processUpload } from '#shared/jobs/process-upload.ts';
import { logger } from '#shared/logger.ts';
import { publishMetrics } from '#shared/metrics.ts';
import { jobIdFromUploadKey } from '#shared/storage/keys.ts';

/** Time kept back from the invocation's deadline to record a failure or release a claim. */
export const DEADLINE_MARGIN_MS = 3_000;

const processor = new BatchProcessor(EventType.SQS);

// During the function's init: the first job then finds the default model's session loaded
// (~170 ms for a ResNet-18-sized model). A failure here is only logged; the job path retries.
void warmUpDefaultModel().catch((error: unknown) => logger.warn('model warm-up failed', { error: error as Error }));

/** Thrown for a record SQS should deliver again; reported in batchItemFailures. */
class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

async function handleRecord(record: SQSRecord, deadline: number): Promise<void> {
  // A body that is not an S3 notification throws here: after maxReceiveCount it lands in the DLQ for a person to see.
  const notification = parseNotification(record.body);
  if (notification.kind === 'test') {
    logger.info('s3:TestEvent skipped', { messageId: record.messageId });
    return;
  }
  const count = receiveCount(record);
  for (const object of notification.objects) {
    const jobId = jobIdFromUploadKey(object.key);
    if (!jobId) {
      logger.warn('object is not a job upload; skipped', { key: object.key, bucket: object.bucket });
      continue;
    }
    const outcome = await processUpload(jobId, {
      messageId: record.messageId,
      receiveCount: count,
      uploadedAt: Date.parse(object.eventTime) || undefined,
      deadline,
    });
    if (outcome === 'retry') throw new RetryLater(`job ${jobId} will be retried`);
  }
}

/** The worker: an SQS batch of S3 notifications, answered with partial batch failures. */
export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  await ensureCatalog();
  const deadline = Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS;
  try {
    return await processPartialResponse(event, (record: SQSRecord) => handleRecord(record, deadline), processor, {
      context,
      throwOnFullBatchFailure: false,
    });
  } finally {
    publishMetrics();
  }
}
