import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type EventSource, type SqsHandler, startEventSource } from './event-source.ts';
import { importHandler } from './handlers.ts';

/**
 * The local cloud's queues and their Lambda event sources, as a table: one entry per queue, with
 * the attributes the AWS stack gives it and, if a function consumes it, that function's module
 * and its event source mapping's batch size and maximum concurrency.
 */

export interface QueueConsumer {
  /** Module (path from the repository root) exporting the Lambda `handler`. */
  handlerModule: string;
  functionName: string;
  batchSize: number;
  maxConcurrency: number;
  /** The function's timeout: context.getRemainingTimeInMillis() counts down from it. */
  timeoutSeconds: number;
}

export interface QueueDefinition {
  name: string;
  attributes?: Record<string, string>;
  /** Messages received this often move to that queue (defined earlier in the table). */
  deadLetter?: { queue: string; maxReceiveCount: number };
  consumer?: QueueConsumer;
}

export interface LocalQueue {
  url: string;
  arn: string;
}

/** Create the queues in table order (a dead-letter queue before the queues that name it). */
export async function createQueues(sqs: SQSClient, definitions: readonly QueueDefinition[]): Promise<Map<string, LocalQueue>> {
  const queues = new Map<string, LocalQueue>();
  for (const definition of definitions) {
    const attributes = { ...definition.attributes };
    if (definition.deadLetter) {
      const target = queues.get(definition.deadLetter.queue);
      if (!target) throw new Error(`queue ${definition.name}: its dead-letter queue ${definition.deadLetter.queue} must come first`);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: target.arn, maxReceiveCount: definition.deadLetter.maxReceiveCount });
    }
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: definition.name, Attributes: attributes }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    if (!QueueUrl || !Attributes?.QueueArn) throw new Error(`queue ${definition.name} was not created`);
    queues.set(definition.name, { url: QueueUrl, arn: Attributes.QueueArn });
  }
  return queues;
}

/** One event source per consumed queue, in table order. */
export async function startConsumers(
  sqs: SQSClient,
  definitions: readonly QueueDefinition[],
  queues: ReadonlyMap<string, LocalQueue>,
  region: string,
): Promise<Map<string, EventSource>> {
  const sources = new Map<string, EventSource>();
  for (const { name, consumer } of definitions) {
    const queue = queues.get(name);
    if (!consumer || !queue) continue;
    const handler = await importHandler<SqsHandler>(consumer.handlerModule);
    sources.set(
      name,
      startEventSource({
        sqs,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region,
        handler,
        batchSize: consumer.batchSize,
        maxConcurrency: consumer.maxConcurrency,
        timeoutSeconds: consumer.timeoutSeconds,
        functionName: consumer.functionName,
        onError: (error) => console.error(`local event source (${consumer.functionName}):`, error),
      }),
    );
  }
  return sources;
}
