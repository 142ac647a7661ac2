import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { logger } from '#shared/logger.ts';
import { publishMetrics } from '#shared/metrics.ts';
import { deliverPending } from '#shared/webhooks/deliver.ts';

/**
 * Webhook delivery: each message names a job or batch whose outbox should be looked at now; the
 * delivery itself (signing, sending, retry schedule) is shared/webhooks/deliver.ts.
 */

const processor = new BatchProcessor(EventType.SQS);
const Message = z.object({ kind: z.enum(['job', 'batch']), id: z.string().min(1).max(100) });

async function handleRecord(record: SQSRecord): Promise<void> {
  const parsed = Message.safeParse(JSON.parse(record.body));
  if (!parsed.success) {
    logger.error('delivery message not understood; dropped', { messageId: record.messageId, body: record.body.slice(0, 500) });
    return;
  }
  await deliverPending(parsed.data);
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  try {
    return await processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false });
  } finally {
    publishMetrics();
  }
}
