import { DeleteMessageBatchCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './handlers.ts';

/**
 * Lambda's SQS event source mapping, locally: poll the queue, call the worker handler with a real
 * SQSEvent batch, delete what succeeded and leave `batchItemFailures` (and whole failed batches)
 * to reappear after the visibility timeout, as AWS does.
 */

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface EventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: SqsHandler;
  batchSize: number;
  /** Concurrent invocations at most (the mapping's maximum concurrency). */
  maxConcurrency: number;
  /** The emulated function timeout, for context.getRemainingTimeInMillis(). */
  timeoutSeconds: number;
  functionName?: string;
  onError?: (error: unknown) => void;
}

export interface EventSource {
  /** Poll now rather than after the idle back-off (the notification bridge calls this after a send). */
  wake(): void;
  /** Resolves when no invocation is running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
  readonly stats: { invocations: number; records: number; failures: number };
}

const IDLE_MIN_MS = 10;
const IDLE_MAX_MS = 250;

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'LOCALCLOUD',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function startEventSource(options: EventSourceOptions): EventSource {
  const stats = { invocations: 0, records: 0, failures: 0 };
  const running = new Set<Promise<void>>();
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  // A wake that came while the loop was receiving, not sleeping: the next sleep is skipped.
  let wokenEarly = false;
  let idleMs = IDLE_MIN_MS;

  const sleep = (ms: number) => {
    if (wokenEarly) {
      wokenEarly = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (wakeUp = undefined));
  };

  async function invoke(messages: Message[]): Promise<void> {
    const records = messages.map((m) => toSqsRecord(m, options.queueArn, options.region));
    stats.invocations++;
    stats.records += records.length;
    let failed: Set<string>;
    try {
      const response = await options.handler(
        { Records: records },
        lambdaContext(options.functionName ?? 'worker', options.timeoutSeconds * 1000),
      );
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // A thrown handler fails the whole batch, as on Lambda.
      options.onError?.(error);
      failed = new Set(records.map((r) => r.messageId));
    }
    stats.failures += failed.size;
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) {
      await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
  }

  /**
   * Short polls (this SQS server's long polls wait for MaxNumberOfMessages). It also holds a short
   * poll until MaxNumberOfMessages are there or ~40 ms pass, so ask for no more than are waiting:
   * a lone message goes at once.
   */
  async function receiveWaiting(): Promise<Message[]> {
    const { Attributes } = await options.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: options.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    const waiting = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
    if (waiting === 0) return [];
    const response = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(options.batchSize, waiting),
        WaitTimeSeconds: 0,
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return response.Messages ?? [];
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      if (running.size >= options.maxConcurrency) {
        await Promise.race(running);
        continue;
      }
      let messages: Message[] = [];
      try {
        messages = await receiveWaiting();
      } catch (error) {
        if (stopped) break;
        options.onError?.(error);
      }
      if (messages.length === 0) {
        await sleep(idleMs);
        idleMs = Math.min(idleMs * 2, IDLE_MAX_MS);
        continue;
      }
      idleMs = IDLE_MIN_MS;
      const invocation = invoke(messages)
        .catch((error) => options.onError?.(error))
        .finally(() => running.delete(invocation));
      running.add(invocation);
    }
  }

  const looping = loop();
  return {
    stats,
    wake() {
      idleMs = IDLE_MIN_MS;
      if (wakeUp) wakeUp();
      else wokenEarly = true;
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await looping;
      await Promise.allSettled([...running]);
    },
  };
}
