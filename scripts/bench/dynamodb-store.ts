import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { describeWrite } from '#shared/jobs/lifecycle.ts';
import { LOCAL_RESOURCES } from '../local-cloud/cloud.ts';
import { ensureTable } from '../local-cloud/dynamodb.ts';
import { InProcessRequestHandler, type RequestListener } from '../local-cloud/in-process-handler.ts';
import { jobShapedItem } from './api-rate.ts';
import { percentile } from './stats.ts';

/**
 * The local DynamoDB's store: dynalite persisted in LevelDB (what the local cloud runs) against
 * dynalite in memory, for the writes a job makes (a conditional PutItem, lifecycle UpdateItems)
 * and its reads, through the same in-process handler the local cloud's handlers use.
 * `npx tsx scripts/bench/dynamodb-store.ts [--seconds N]`.
 */

const CONCURRENCY = 8;

interface StoreFigures {
  store: 'leveldb' | 'memory';
  operation: string;
  opsPerSecond: number;
  p50Ms: number;
  cpuMsPerOp: number;
}

async function measure(store: StoreFigures['store'], seconds: number): Promise<StoreFigures[]> {
  process.env.TABLE_NAME ??= 'bench';
  process.env.BUCKET_NAME ??= 'bench';
  const dir = mkdtempSync(join(tmpdir(), 'dynalite-bench-'));
  const server: Server = dynalite({ ...(store === 'leveldb' ? { path: dir } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const listener = server.listeners('request')[0] as RequestListener;
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: LOCAL_RESOURCES.region,
      endpoint: 'http://dynamodb.local',
      credentials: LOCAL_RESOURCES.credentials,
      requestHandler: new InProcessRequestHandler(listener) as never,
    }),
  );
  const table = 'bench';
  try {
    await ensureTable(client as unknown as DynamoDBClient, table);
    const ids: string[] = [];
    const put = async () => {
      const item = jobShapedItem();
      ids.push((item.pk as string).slice(4));
      await client.send(new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    };
    let next = 0;
    const claim = async () => {
      const jobId = ids[next++ % ids.length]!;
      // The lifecycle's own claim write (condition, timer, event, attempts); a refused condition still costs the evaluation.
      await client.send(new UpdateCommand(describeWrite(jobId, { type: 'claim', claimId: `m#${next}`, leaseMs: 60_000 }, Date.now() + next * 120_000, table))).catch(() => undefined);
    };
    const get = async () => {
      await client.send(new GetCommand({ TableName: table, Key: { pk: `job#${ids[next++ % ids.length]}` }, ConsistentRead: true }));
    };
    const figures: StoreFigures[] = [];
    for (const [operation, op] of [
      ['conditional PutItem (a new job)', put],
      ['UpdateItem (a lifecycle claim)', claim],
      ['GetItem (consistent)', get],
    ] as const) {
      const latencies: number[] = [];
      const cpuBefore = process.cpuUsage();
      const end = performance.now() + seconds * 1000;
      let count = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const started = performance.now();
            await op();
            latencies.push(performance.now() - started);
            count++;
          }
        }),
      );
      const cpu = process.cpuUsage(cpuBefore);
      figures.push({
        store,
        operation,
        opsPerSecond: count / seconds,
        p50Ms: percentile(latencies, 50),
        cpuMsPerOp: (cpu.user + cpu.system) / 1000 / count,
      });
    }
    return figures;
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureDynamoStores(seconds = 3): Promise<StoreFigures[]> {
  return [...(await measure('leveldb', seconds)), ...(await measure('memory', seconds))];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 3;
  const rows = await measureDynamoStores(seconds);
  console.log(`concurrency ${CONCURRENCY}, ${seconds} s each, in-process handler, one core of work`);
  console.log('| store | operation | ops/s | p50 ms | CPU ms/op |\n|---|---|--:|--:|--:|');
  for (const r of rows) console.log(`| ${r.store} | ${r.operation} | ${r.opsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.cpuMsPerOp.toFixed(2)} |`);
}
