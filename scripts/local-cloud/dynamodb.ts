import type { Server } from 'node:http';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException, UpdateTableCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { TABLE_INDEXES, TABLE_SCHEMA } from '#shared/jobs/table.ts';
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

/**
 * dynalite makes a table (or a new index) ACTIVE on a timer even with createTableMs 0, and
 * answers ResourceNotFound until then; wait, as a deploy waits for CloudFormation.
 */
async function untilActive(dynamo: DynamoDBClient, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE')) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${name} did not become ACTIVE`);
}

export async function ensureTable(dynamo: DynamoDBClient, name: string): Promise<void> {
  const attributes = new Map<string, 'S' | 'N'>([[TABLE_SCHEMA.partitionKey, 'S']]);
  for (const index of TABLE_INDEXES) {
    attributes.set(index.partitionKey, index.keyTypes[0]);
    attributes.set(index.sortKey, index.keyTypes[1]);
  }
  const indexDefinition = (index: (typeof TABLE_INDEXES)[number]) => ({
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  let existing: string[] | undefined;
  try {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: name }));
    existing = (Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName!);
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException) && (error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  const AttributeDefinitions = [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
  if (!existing) {
    await dynamo.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions,
        KeySchema: [{ AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: TABLE_INDEXES.map(indexDefinition),
      }),
    );
    await untilActive(dynamo, name);
    return;
  }
  // State from an earlier version: add the indexes it lacks, as a deploy of the stack would.
  for (const index of TABLE_INDEXES.filter((i) => !existing.includes(i.name))) {
    await dynamo.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: indexDefinition(index) }],
      }),
    );
  }
  await untilActive(dynamo, name);
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
