import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_SETTINGS } from '#shared/jobs/table.ts';
import { SQS_MAX_VISIBILITY_TIMEOUT_SECONDS } from '../settings.ts';

/** Failed messages are kept this long for inspection and redrive (SQS's maximum). */
export const DLQ_RETENTION = Duration.days(QUEUE_SETTINGS.dlqRetentionDays);
/** SQS drops a message older than this; the oldest-message-age alarm fires long before. */
export const QUEUE_RETENTION = Duration.days(4);

export interface JobsQueueProps {
  readonly workerTimeout: Duration;
  /** The event source's batching window: a message can wait this long before its batch is sent. */
  readonly batchingWindow: Duration;
  readonly maxReceiveCount: number;
}

/**
 * Visibility timeout for a queue feeding a function: AWS's guidance is at least six times the
 * function timeout, plus the batching window, so a message is not redelivered while a retried
 * or throttled invocation may still be working on it.
 */
export function visibilityTimeoutFor(workerTimeout: Duration, batchingWindow: Duration): Duration {
  const seconds = QUEUE_SETTINGS.visibilityTimeoutFactor * workerTimeout.toSeconds() + batchingWindow.toSeconds();
  if (seconds > SQS_MAX_VISIBILITY_TIMEOUT_SECONDS) {
    throw new Error(`visibility timeout ${seconds}s exceeds SQS's ${SQS_MAX_VISIBILITY_TIMEOUT_SECONDS}s`);
  }
  return Duration.seconds(seconds);
}

/**
 * The jobs queue (S3 ObjectCreated events for uploads/) and its dead-letter queue. A message
 * received maxReceiveCount times moves to the DLQ; the worker is told the same number
 * (MAX_RECEIVE_COUNT) so that on the last receive it fails the job instead of retrying.
 */
export class JobsQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: JobsQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DLQ_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: QUEUE_RETENTION,
      visibilityTimeout: visibilityTimeoutFor(props.workerTimeout, props.batchingWindow),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
