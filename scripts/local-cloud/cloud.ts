import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createRequestHandler as createSqsRequestHandler } from 'local-aws-sqs';
import { QUEUE_SETTINGS } from '#shared/jobs/table.ts';
import { LANDED_BATCH_SIZE, LANDED_MAX_CONCURRENCY, LANDED_TIMEOUT_SECONDS } from '../../functions/landed/limits.ts';
import { ensureTable, startDynalite, sweepExpiredItems, TTL_SWEEP_DEFAULT_MS } from './dynamodb.ts';
import { type Edge, startEdge } from './edge.ts';
import type { EventSource } from './event-source.ts';
import { startHttpGateway, type HttpGateway } from './http-gateway.ts';
import { InProcessRequestHandler, type RequestListener } from './in-process-handler.ts';
import { localIssuer } from './dev-tokens.ts';
import { createNotificationBridge } from './notifications.ts';
import { createQueues, type QueueDefinition, startConsumers } from './queues.ts';
import { createLocalS3, type LocalS3 } from './s3/server.ts';
import { type PeriodicTask, type ScheduleDefinition, scheduledFunctions, startPeriodic } from './schedules.ts';

/**
 * The local cloud: AWS-protocol servers and the glue AWS provides between them, in one process,
 * running the very handlers the AWS stack deploys.
 *
 *   edge port (S3 | DynamoDB | SQS by credential scope) ◀─ the AWS CLI, scripts, presigned PUTs
 *   local S3 ─ ObjectCreated uploads/ ─▶ notification bridge (the topic) ─▶ jobs + uploads-landed queues
 *   SQS queues (localQueues) ─▶ event sources ─▶ handlers
 *   HTTP gateway (API Gateway v2 events, authorizer first) ─▶ API handler ─▶ DynamoDB (dynalite)
 *   schedules (SCHEDULES, the TTL sweep) ─▶ handlers
 *
 * The handlers' SDK clients reach the emulators in process (in-process-handler.ts): same
 * protocol and signatures, no sockets. State (objects, table) persists under stateDir; the queue
 * lives in memory and is rebuilt on start from the table and the bucket (redriveUnfinishedJobs).
 */

export const LOCAL_RESOURCES = {
  region: 'us-east-1',
  bucket: 'inference-pipeline-local',
  table: 'inference-pipeline-jobs',
  queue: 'inference-pipeline-jobs',
  dlq: 'inference-pipeline-jobs-dlq',
  webhookQueue: 'inference-pipeline-webhooks',
  landedQueue: 'inference-pipeline-uploads-landed',
  landedDlq: 'inference-pipeline-uploads-landed-dlq',
  /**
   * The one key pair the local S3 accepts (SigV4 signs with the secret, so any other key id could
   * not be verified); published in endpoints.json and the README. It signs presigned URLs too.
   */
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
  /** The edge port serving S3, DynamoDB and SQS; 0 picks a free one. */
  edgePort?: number;
  /** Settings for the handlers (shared/config.ts variables), over the process environment. */
  env?: Record<string, string>;
  /** CORS allowed origins for the API and the bucket (the stack's allowedOrigins). */
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
  /** Interval of each schedule, by name (SCHEDULES), over its AWS rate. */
  scheduleEveryMs?: Record<string, number>;
  /** How often expired items are deleted (DynamoDB TTL); default a minute. */
  ttlSweepMs?: number;
}

export interface Endpoints {
  apiUrl: string;
  apiKey: string;
  region: string;
  /** The edge port's URL: every service below answers there. */
  edge: string;
  s3: string;
  sqs: string;
  dynamodb: string;
  bucket: string;
  queueUrl: string;
  dlqUrl: string;
  table: string;
  /** The fixed local key pair (the local S3 verifies signatures with it). */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface LocalCloud {
  endpoints: Endpoints;
  /** The local S3 (faults, clock); its close() closes the edge port it is served on. */
  s3Gateway: LocalS3;
  /** The jobs queue's event source (the worker). */
  eventSource: EventSource;
  eventSources: ReadonlyMap<string, EventSource>;
  /** Deliver an ObjectCreated notification for a key again (tests: duplicate events). */
  notifyUpload(key: string): Promise<void>;
  /** Run the TTL sweep now; resolves to the number of items deleted. */
  sweepExpired(): Promise<number>;
  /** Run the scheduled sweep (functions/sweep) now, as its schedule would. */
  sweep(): Promise<void>;
  /** Stop taking requests (503), finish what is in flight and the running jobs, then the stores. */
  stop(): Promise<void>;
}

/** The queues the AWS stack makes, and the functions consuming them (one entry per queue). */
export function localQueues(options: LocalCloudOptions): QueueDefinition[] {
  const timeoutSeconds = options.worker?.timeoutSeconds ?? 60;
  const visibilityTimeout = options.worker?.visibilityTimeoutSeconds ?? QUEUE_SETTINGS.visibilityTimeoutFactor * timeoutSeconds;
  return [
    {
      name: LOCAL_RESOURCES.dlq,
      attributes: { MessageRetentionPeriod: String(QUEUE_SETTINGS.dlqRetentionDays * 86_400) },
      // Ends jobs whose messages ran out of deliveries, as the stack's dead-letter function does.
      consumer: { handlerModule: 'functions/dead-letter/index.ts', functionName: 'dead-letter', batchSize: 10, maxConcurrency: 1, timeoutSeconds: 30 },
    },
    {
      name: LOCAL_RESOURCES.queue,
      attributes: { VisibilityTimeout: String(visibilityTimeout) },
      deadLetter: { queue: LOCAL_RESOURCES.dlq, maxReceiveCount: options.maxReceiveCount ?? 5 },
      consumer: {
        handlerModule: 'functions/worker/index.ts',
        functionName: 'worker',
        batchSize: options.worker?.batchSize ?? QUEUE_SETTINGS.batchSize,
        maxConcurrency: options.worker?.maxConcurrency ?? 2,
        timeoutSeconds,
      },
    },
    {
      name: LOCAL_RESOURCES.webhookQueue,
      // 6 × the delivery function's timeout, as AWS advises for SQS-triggered functions.
      attributes: { VisibilityTimeout: String(QUEUE_SETTINGS.visibilityTimeoutFactor * WEBHOOK_TIMEOUT_SECONDS) },
      consumer: {
        handlerModule: 'functions/webhooks/index.ts',
        functionName: 'webhooks',
        batchSize: QUEUE_SETTINGS.batchSize,
        maxConcurrency: 2,
        timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
      },
    },
    // The uploads-landed queue and its DLQ (kept for inspection: the worker's copy of each message is the one that matters).
    { name: LOCAL_RESOURCES.landedDlq, attributes: { MessageRetentionPeriod: String(QUEUE_SETTINGS.dlqRetentionDays * 86_400) } },
    {
      name: LOCAL_RESOURCES.landedQueue,
      attributes: { VisibilityTimeout: String(QUEUE_SETTINGS.visibilityTimeoutFactor * LANDED_TIMEOUT_SECONDS) },
      deadLetter: { queue: LOCAL_RESOURCES.landedDlq, maxReceiveCount: options.maxReceiveCount ?? 5 },
      // Marks each job whose upload landed queued, whether or not a worker has its message yet.
      consumer: {
        handlerModule: 'functions/landed/index.ts',
        functionName: 'landed',
        batchSize: LANDED_BATCH_SIZE,
        maxConcurrency: LANDED_MAX_CONCURRENCY,
        timeoutSeconds: LANDED_TIMEOUT_SECONDS,
      },
    },
  ];
}

/** The queues subscribed to the uploads topic: each gets every ObjectCreated notification, as the same raw body. */
export const UPLOAD_SUBSCRIBERS: readonly string[] = [LOCAL_RESOURCES.queue, LOCAL_RESOURCES.landedQueue];

/** The webhook delivery function's timeout (the stack's too): two 15 s calls at most per message. */
export const WEBHOOK_TIMEOUT_SECONDS = 30;

/** The stack's scheduled functions (EventBridge rules), with their AWS rates. */
export const SCHEDULES: readonly ScheduleDefinition[] = [
  // Expires lapsed uploads, re-notifies stalled jobs, hands due webhooks to delivery (rate(1 minute)).
  { name: 'sweep', handlerModule: 'functions/sweep/index.ts', everyMs: 60_000, timeoutSeconds: 60 },
];

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const host = options.host ?? '127.0.0.1';
  const stateDir = resolve(options.stateDir ?? '.local');
  const { region, bucket, table, queue, dlq, credentials } = LOCAL_RESOURCES;
  const timeoutSeconds = options.worker?.timeoutSeconds ?? 60;
  const allowedOrigins = options.allowedOrigins ?? ['*'];
  if (options.fresh) rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, 's3'), { recursive: true });
  mkdirSync(join(stateDir, 'dynamodb'), { recursive: true });
  // Stop steps, run in order: ingress first, then the work, then the stores.
  const ingress: (() => Promise<unknown>)[] = [];
  const work: (() => Promise<unknown>)[] = [];
  const stores: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of [...ingress, ...work, ...stores]) await step().catch((error) => console.error('local cloud stop:', error));
    ingress.length = work.length = stores.length = 0;
  };

  try {
    // S3: the project's own server, with the bucket and its CORS as the AWS stack makes them.
    const s3Gateway = await createLocalS3({ directory: join(stateDir, 's3'), region, credentials: [credentials], buckets: [bucket], allowedOrigins });
    stores.push(() => s3Gateway.close());
    // DynamoDB: dynalite, persisted with LevelDB.
    const dynamoServer = await startDynalite(join(stateDir, 'dynamodb'), host);
    stores.push(() => dynamoServer.close());

    // One port for all three, for the AWS CLI, scripts and presigned URLs (stable across restarts when fixed).
    let edge: Edge | undefined;
    const edgePort = options.edgePort ?? 0;
    // SQS: in memory; its queue URLs name the edge port.
    const sqsService = createSqsRequestHandler({ port: edgePort, hostname: host, region, emulateQueueCreationLifecycle: false });
    const sqsListener = sqsService.requestHandler as RequestListener;
    edge = await startEdge({ s3: s3Gateway, dynamodb: dynamoServer.listener, sqs: sqsListener }, edgePort, host);
    sqsService.service.PORT = Number(new URL(edge.url).port);
    ingress.push(() => edge.close());
    const endpoints = { edge: edge.url, s3: edge.url, sqs: edge.url, dynamodb: edge.url };

    // The handlers' clients reach the emulators in process; endpoints still name the edge (presigned URLs).
    const listeners: Record<'s3' | 'dynamodb' | 'sqs', RequestListener> = { s3: s3Gateway.listener, dynamodb: dynamoServer.listener, sqs: sqsListener };
    const inProcess = Object.fromEntries(Object.entries(listeners).map(([service, listener]) => [service, new InProcessRequestHandler(listener)])) as Record<
      keyof typeof listeners,
      InProcessRequestHandler
    >;

    // The handlers read the standard SDK environment, as on AWS.
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
      MAX_RECEIVE_COUNT: String(options.maxReceiveCount ?? 5),
      JOB_LEASE_SECONDS: String(timeoutSeconds),
      ...options.env,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    const clientConfig = { region, credentials };
    type Handler = NonNullable<ConstructorParameters<typeof S3Client>[0]>['requestHandler'];
    const s3 = new S3Client({ ...clientConfig, endpoint: endpoints.s3, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', requestHandler: inProcess.s3 as Handler });
    const dynamo = new DynamoDBClient({ ...clientConfig, endpoint: endpoints.dynamodb, requestHandler: inProcess.dynamodb as Handler });
    const sqs = new SQSClient({ ...clientConfig, endpoint: endpoints.sqs, requestHandler: inProcess.sqs as Handler });
    stores.push(async () => [s3, dynamo, sqs].forEach((c) => c.destroy()));

    // Resources, with the names and settings the AWS stack uses (the bucket and its CORS: createLocalS3 above).
    await ensureTable(dynamo, table);
    const queueTable = localQueues(options);
    const queues = await createQueues(sqs, queueTable);

    // Where the handlers send: the sweep re-notifies on the jobs queue; state changes nudge webhook delivery.
    Object.assign(process.env, {
      JOBS_QUEUE_URL: queues.get(queue)!.url,
      WEBHOOK_QUEUE_URL: queues.get(LOCAL_RESOURCES.webhookQueue)!.url,
      // Local receivers are on loopback and plain http; on AWS only public https URLs are called.
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      ...options.env,
    });

    // Imported only now: the handlers read the environment set above, and use the in-process handlers.
    const { resetConfig } = await import('#shared/config.ts');
    const { setRequestHandlerFactory } = await import('#shared/aws.ts');
    resetConfig();
    setRequestHandlerFactory((service) => inProcess[service] as Handler);

    const eventSources = await startConsumers(sqs, queueTable, queues, region);
    // Stopped in table order reversed: the worker first, so a job it dead-letters still reaches the DLQ's consumer.
    for (const source of [...eventSources.values()].reverse()) work.push(() => source.stop());
    const jobsSource = eventSources.get(queue);
    if (!jobsSource) throw new Error('the jobs queue has no consumer');

    const schedules = await scheduledFunctions(
      SCHEDULES.map((s) => ({ ...s, everyMs: options.scheduleEveryMs?.[s.name] ?? s.everyMs })),
      region,
    );
    const periodic = startPeriodic(
      [
        { name: 'dynamodb-ttl', everyMs: options.ttlSweepMs ?? TTL_SWEEP_DEFAULT_MS, run: () => sweepExpiredItems(dynamo, table) },
        ...schedules,
      ] satisfies PeriodicTask[],
      (task, error) => console.error(`local schedule ${task}:`, error),
    );
    work.unshift(() => periodic.stop());

    const bridge = createNotificationBridge({
      sqs,
      queueUrls: UPLOAD_SUBSCRIBERS.map((name) => queues.get(name)!.url),
      prefix: 'uploads/',
      region,
      onSent: () => UPLOAD_SUBSCRIBERS.forEach((name) => eventSources.get(name)?.wake()),
    });
    // Awaited by the S3 server before it answers: an upload answered 200 has been notified.
    s3Gateway.onObjectCreated((event) => bridge.notify(event));

    const notifyUpload = async (key: string) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      await bridge.notify({ bucket, key, size: head.ContentLength ?? 0, eTag: head.ETag, eventName: 'ObjectCreated:Put' });
    };

    const apiKey = await devApiKey(stateDir);
    const { handler: api } = await import('../../functions/api/index.ts');
    const { handler: authorizer } = await import('../../functions/authorizer/index.ts');
    // Bearer tokens signed by the local issuer (npm run token) work beside keys, as with context auth=both.
    const jwt = await localIssuer(stateDir);
    const gateway: HttpGateway = await startHttpGateway({ host, port: options.apiPort ?? 0, api, authorizer, allowedOrigins, jwt });
    ingress.unshift(() => gateway.close());
    // Written before the first API request is handled (no await since listen), atomically.
    const all: Endpoints = {
      apiUrl: gateway.url,
      apiKey,
      region,
      ...endpoints,
      bucket,
      queueUrl: queues.get(queue)!.url,
      dlqUrl: queues.get(dlq)!.url,
      table,
      credentials,
    };
    writeFileAtomically(join(stateDir, 'endpoints.json'), `${JSON.stringify(all, null, 2)}\n`);

    await redriveUnfinishedJobs(notifyUpload);
    // Closing "the S3 server" closes the port S3 is served on (tests: S3 vanishing under a client);
    // the handlers keep their in-process route.
    const servedS3: LocalS3 = Object.assign(Object.create(s3Gateway) as LocalS3, { close: () => edge.close() });
    return {
      endpoints: all,
      s3Gateway: servedS3,
      eventSource: jobsSource,
      eventSources,
      notifyUpload,
      sweepExpired: () => sweepExpiredItems(dynamo, table),
      sweep: async () => {
        await schedules.find((s) => s.name === 'sweep')!.run();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function writeFileAtomically(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
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
 * The queue lives in memory, so it is rebuilt from the table and the bucket: every job a previous
 * run left unfinished with its upload in the bucket (queued, running, or still awaiting_upload
 * because the object landed just before the stop) is notified again; the lifecycle makes a
 * duplicate notification harmless. Terminal jobs (succeeded, failed, canceled) have their answer.
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
