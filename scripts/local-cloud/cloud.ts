import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { createSqsServer } from 'local-aws-sqs';
import { TABLE_SCHEMA } from '#shared/jobs/table.ts';
import { startEventSource, type EventSource } from './event-source.ts';
import { startHttpGateway, type HttpGateway } from './http-gateway.ts';
import { createNotificationBridge } from './notifications.ts';
import { type LocalS3, startLocalS3 } from './s3/server.ts';

/**
 * The local cloud: AWS-protocol servers on loopback and the glue AWS provides between them, in
 * one process, running the very handlers the AWS stack deploys.
 *
 *   local S3 (SigV4 checks, crash-safe store) ◀─ clients, presigned PUTs, the SDK, the AWS CLI
 *     └─ ObjectCreated uploads/ ─▶ notification bridge ─▶ SQS jobs queue (+ DLQ) ─▶ event source ─▶ worker handler
 *   HTTP gateway (API Gateway v2 events, authorizer first) ─▶ API handler ─▶ DynamoDB (dynalite)
 *
 * State (objects, table) persists under stateDir; the queue lives in memory, so on start every
 * unfinished job whose upload exists is notified again (transitions are idempotent).
 */

export const LOCAL_RESOURCES = {
  region: 'us-east-1',
  bucket: 'inference-pipeline-local',
  table: 'inference-pipeline-jobs',
  queue: 'inference-pipeline-jobs',
  dlq: 'inference-pipeline-jobs-dlq',
  /** Static credentials the S3 gateway accepts; they sign the presigned URLs handed to clients. */
  credentials: { accessKeyId: 'LOCALCLOUDACCESSKEY', secretAccessKey: 'local-cloud-secret-access-key' },
  devOwner: 'dev',
} as const;

export interface LocalCloudOptions {
  /** Where state persists (default `.local`). */
  stateDir?: string;
  /** Wipe stateDir first. */
  fresh?: boolean;
  host?: string;
  /** API port; 0 picks a free one. */
  apiPort?: number;
  /** Settings for the handlers (shared/config.ts variables), over the process environment. */
  env?: Record<string, string>;
  /** CORS allowed origins for the API and the bucket. */
  allowedOrigins?: string[];
  worker?: {
    batchSize?: number;
    maxConcurrency?: number;
    /** The emulated worker timeout; also the job lease. */
    timeoutSeconds?: number;
    /** Default: QUEUE_SETTINGS.visibilityTimeoutFactor × timeoutSeconds, as on AWS. */
    visibilityTimeoutSeconds?: number;
  };
  maxReceiveCount?: number;
}

export interface Endpoints {
  apiUrl: string;
  apiKey: string;
  region: string;
  s3: string;
  sqs: string;
  dynamodb: string;
  bucket: string;
  queueUrl: string;
  dlqUrl: string;
  table: string;
}

export interface LocalCloud {
  endpoints: Endpoints;
  s3Gateway: LocalS3;
  eventSource: EventSource;
  /** Deliver an ObjectCreated notification for a key again (tests: duplicate events). */
  notifyUpload(key: string): Promise<void>;
  stop(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolvePort((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections?.();
  });
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const host = options.host ?? '127.0.0.1';
  const stateDir = resolve(options.stateDir ?? '.local');
  const { region, bucket, table, queue, dlq, credentials } = LOCAL_RESOURCES;
  const timeoutSeconds = options.worker?.timeoutSeconds ?? 60;
  const visibilityTimeout = options.worker?.visibilityTimeoutSeconds ?? 6 * timeoutSeconds;
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const allowedOrigins = options.allowedOrigins ?? ['*'];
  if (options.fresh) rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, 's3'), { recursive: true });
  mkdirSync(join(stateDir, 'dynamodb'), { recursive: true });
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const close of stops.reverse()) await close().catch(() => undefined);
  };

  try {
    // S3: the project's own server, with the bucket and its CORS as the AWS stack makes them.
    const s3Gateway = await startLocalS3({
      directory: join(stateDir, 's3'),
      host,
      port: 0,
      region,
      credentials: [credentials],
      buckets: [bucket],
      allowedOrigins,
    });
    stops.push(() => s3Gateway.close());

    // DynamoDB: dynalite, persisted with LevelDB.
    const dynamoServer = dynalite({ path: join(stateDir, 'dynamodb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    const dynamoPort = await listen(dynamoServer, 0, host);
    stops.push(() => closeServer(dynamoServer));

    // SQS: in memory.
    const sqsServer = await createSqsServer({ port: 0, hostname: host, region, emulateQueueCreationLifecycle: false });
    const sqsPort = (sqsServer.address() as AddressInfo).port;
    stops.push(() => closeServer(sqsServer));

    const endpoints = { s3: s3Gateway.url, sqs: `http://${host}:${sqsPort}`, dynamodb: `http://${host}:${dynamoPort}` };

    // The handlers reach these servers through the standard SDK environment, as on AWS.
    Object.assign(process.env, {
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      TABLE_NAME: table,
      BUCKET_NAME: bucket,
      S3_FORCE_PATH_STYLE: 'true',
      MAX_RECEIVE_COUNT: String(maxReceiveCount),
      JOB_LEASE_SECONDS: String(timeoutSeconds),
      ...options.env,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    const clientConfig = { region, credentials };
    const s3 = new S3Client({ ...clientConfig, endpoint: endpoints.s3, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const dynamo = new DynamoDBClient({ ...clientConfig, endpoint: endpoints.dynamodb });
    const sqs = new SQSClient({ ...clientConfig, endpoint: endpoints.sqs });
    stops.push(async () => [s3, dynamo, sqs].forEach((c) => c.destroy()));

    // Resources, with the names and settings the AWS stack uses (the bucket and its CORS: startLocalS3 above).
    await ensureTable(dynamo, table);
    const { QueueUrl: dlqUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: dlq, Attributes: { MessageRetentionPeriod: String(14 * 86_400) } }),
    );
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const { QueueUrl: queueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: queue,
        Attributes: {
          VisibilityTimeout: String(visibilityTimeout),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
        },
      }),
    );
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

    // Imported only now: the handlers read the environment set above.
    const { resetConfig } = await import('#shared/config.ts');
    const { resetAwsClients } = await import('#shared/aws.ts');
    resetConfig();
    resetAwsClients();
    const { handler: api } = await import('../../functions/api/index.ts');
    const { handler: authorizer } = await import('../../functions/authorizer/index.ts');
    const { handler: worker } = await import('../../functions/worker/index.ts');

    const eventSource = startEventSource({
      sqs,
      queueUrl: queueUrl!,
      queueArn,
      region,
      handler: worker,
      batchSize: options.worker?.batchSize ?? 10,
      maxConcurrency: options.worker?.maxConcurrency ?? 2,
      timeoutSeconds,
      onError: (error) => console.error('local event source:', error),
    });
    stops.push(() => eventSource.stop());

    // The DLQ's consumer ends jobs whose messages ran out of deliveries, as the stack's dead-letter function does.
    const { handler: deadLetters } = await import('../../functions/dead-letter/index.ts');
    const deadLetterSource = startEventSource({
      sqs,
      queueUrl: dlqUrl!,
      queueArn: dlqArn,
      region,
      handler: deadLetters,
      batchSize: 10,
      maxConcurrency: 1,
      timeoutSeconds: 30,
      functionName: 'dead-letter',
      onError: (error) => console.error('local dead-letter source:', error),
    });
    stops.push(() => deadLetterSource.stop());

    const bridge = createNotificationBridge({ sqs, queueUrl: queueUrl!, prefix: 'uploads/', region, onSent: () => eventSource.wake() });
    // Awaited by the S3 server before it answers: an upload answered 200 has been notified.
    s3Gateway.onObjectCreated((event) => bridge.notify(event));

    const notifyUpload = async (key: string) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      await bridge.notify({ bucket, key, size: head.ContentLength ?? 0, eTag: head.ETag, eventName: 'ObjectCreated:Put' });
    };

    const apiKey = await devApiKey(stateDir);
    const gateway: HttpGateway = await startHttpGateway({ host, port: options.apiPort ?? 0, api, authorizer, allowedOrigins });
    stops.push(() => gateway.close());

    await redriveUnfinishedJobs(notifyUpload);

    const all: Endpoints = {
      apiUrl: gateway.url,
      apiKey,
      region,
      ...endpoints,
      bucket,
      queueUrl: queueUrl!,
      dlqUrl: dlqUrl!,
      table,
    };
    writeFileSync(join(stateDir, 'endpoints.json'), `${JSON.stringify(all, null, 2)}\n`);
    return { endpoints: all, s3Gateway, eventSource, notifyUpload, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function ensureTable(dynamo: DynamoDBClient, name: string): Promise<void> {
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

/** The dev key survives restarts (kept in endpoints.json); a new one is made if it is gone from the table. */
async function devApiKey(stateDir: string): Promise<string> {
  const { createApiKey, findKeyOwner } = await import('#shared/auth/api-keys.ts');
  try {
    const previous = JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')) as Partial<Endpoints>;
    if (previous.apiKey && (await findKeyOwner(previous.apiKey)) === LOCAL_RESOURCES.devOwner) return previous.apiKey;
  } catch {
    // first start
  }
  return (await createApiKey(LOCAL_RESOURCES.devOwner, 'local dev key')).key;
}

/**
 * The queue lives in memory, so every job a previous run left unfinished with its upload in the
 * bucket (queued, running, or still awaiting_upload because the object landed just before the
 * stop) is notified again; the lifecycle makes a duplicate notification harmless.
 */
async function redriveUnfinishedJobs(notifyUpload: (key: string) => Promise<void>): Promise<void> {
  const { scanJobsByStatus } = await import('#shared/jobs/store.ts');
  const { transition } = await import('#shared/jobs/lifecycle.ts');
  const { uploadKey } = await import('#shared/storage/keys.ts');
  for await (const job of scanJobsByStatus(['awaiting_upload', 'queued', 'running'])) {
    if (job.status === 'running' && job.claimId) {
      // Its worker was this process, now gone: give the job back rather than wait out the lease.
      await transition(job.jobId, {
        type: 'release',
        claimId: job.claimId,
        lastError: { code: 'internal', message: 'the local cloud restarted during processing' },
      });
    }
    // No object (an upload still awaited) makes the HEAD fail: nothing to notify.
    await notifyUpload(uploadKey(job.jobId)).catch(() => undefined);
  }
}
