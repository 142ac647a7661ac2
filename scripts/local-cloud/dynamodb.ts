import type { Server } from 'node:http';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { TABLE_SCHEMA } from '#shared/jobs/table.ts';
import type { RequestListener } from './in-process-handler.ts';

/**
 * DynamoDB, locally: dynalite over LevelDB (state persists across restarts), the stack's table,
 * and what DynamoDB does on its own that dynalite does not: Time to Live.
 */

export interface LocalDynamo {
  listener: RequestListener;
  close(): Promise<void>;
}

export async function startDynalite(path: string, host: string): Promise<LocalDynamo> {
  const server: Server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const listener = server.listeners('request')[0] as RequestListener | undefined;
  if (!listener) throw new Error('dynalite exposes no request listener');
  // Served through the edge port and in process; it also listens on a private port because its
  // close() (which flushes and closes LevelDB) expects a listening server.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    listener,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function ensureTable(dynamo: DynamoDBClient, name: string): Promise<void> {
  try {
    await dynamo.send(new DescribeTableCommand({ TableName: name }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException) && (error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  const { partitionKey, ownerIndex } = TABLE_SCHEMA;
  await dynamo.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: partitionKey, AttributeType: 'S' },
        { AttributeName: ownerIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: ownerIndex.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: ownerIndex.name,
          KeySchema: [
            { AttributeName: ownerIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: ownerIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}

/** How often the local TTL sweep runs by default (AWS deletes expired items within days). */
export const TTL_SWEEP_DEFAULT_MS = 60_000;

/**
 * DynamoDB TTL: delete the items whose TTL attribute (epoch seconds) has passed. The delete is
 * conditional on the item still being expired, so an item renewed since the scan stays.
 * Returns how many were deleted.
 */
export async function sweepExpiredItems(dynamo: DynamoDBClient, table: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
  const { partitionKey, ttlAttribute } = TABLE_SCHEMA;
  const names = { '#ttl': ttlAttribute };
  const values = { ':now': { N: String(nowSeconds) } };
  let deleted = 0;
  let start: ScanCommand['input']['ExclusiveStartKey'];
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: '#ttl < :now',
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: { ...names, '#pk': partitionKey },
        ExpressionAttributeValues: values,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      try {
        await dynamo.send(
          new DeleteItemCommand({
            TableName: table,
            Key: { [partitionKey]: item[partitionKey]! },
            ConditionExpression: '#ttl < :now',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
        deleted++;
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return deleted;
}
