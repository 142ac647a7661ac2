import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { PipelineClient } from '#shared/client/pipeline-client.ts';
import type { Endpoints } from '../local-cloud/cloud.ts';
import { LOCAL_RESOURCES } from '../local-cloud/cloud.ts';
import { machineBusySeconds, type ProcessUsage } from './processes.ts';
import { perSecond, type Summary, summarize } from './stats.ts';

/**
 * Measurement 5, the API: create-job requests per second at a fixed concurrency through the local
 * HTTP API (gateway → authorizer → API handler → presign + conditional PutItem), against the rate
 * at which the same local DynamoDB takes conditional PutItems of a job-shaped item at the same
 * concurrency, straight from the SDK. The cloud runs in its own process; the load comes from this one.
 */

export const API_CONCURRENCY = 32;

export interface RateMeasurement {
  concurrency: number;
  count: number;
  errors: number;
  elapsedMs: number;
  perSecond: number;
  latencyMs: Summary;
  /** CPU time per operation (warm-up included) in the process serving it, its main thread, and this one (the load generator). */
  serverCpuMsPerOp: number;
  serverMainThreadCpuMsPerOp: number;
  clientCpuMsPerOp: number;
  /** CPU other processes on the machine used meanwhile, core-seconds. */
  otherCpuSeconds: number;
}

/**
 * Run `operation` from `concurrency` loops for durationMs (after warmupMs not counted), and say
 * how much CPU each operation took in the serving process and in this one.
 */
export async function closedLoopRate(
  concurrency: number,
  durationMs: number,
  warmupMs: number,
  operation: () => Promise<unknown>,
  serverUsage: () => ProcessUsage,
): Promise<RateMeasurement> {
  const serverBefore = serverUsage();
  const clientCpuBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  let warmupOps = 0;
  const warmupEnds = performance.now() + warmupMs;
  while (performance.now() < warmupEnds) {
    await Promise.all(Array.from({ length: concurrency }, operation));
    warmupOps += concurrency;
  }
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await operation();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  const ops = warmupOps + latencies.length + errors;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const serverAfter = serverUsage();
  const ours = serverAfter.cpuSeconds - serverBefore.cpuSeconds + (clientCpu.user + clientCpu.system) / 1e6;
  return {
    concurrency,
    count: latencies.length,
    errors,
    elapsedMs,
    perSecond: perSecond(latencies.length, elapsedMs),
    latencyMs: summarize(latencies),
    serverCpuMsPerOp: ((serverAfter.cpuSeconds - serverBefore.cpuSeconds) * 1000) / ops,
    serverMainThreadCpuMsPerOp: ((serverAfter.mainThreadCpuSeconds - serverBefore.mainThreadCpuSeconds) * 1000) / ops,
    clientCpuMsPerOp: (clientCpu.user + clientCpu.system) / 1000 / ops,
    otherCpuSeconds: Math.max(0, machineBusySeconds() - machineBefore - ours),
  };
}

/** An item shaped like a job as POST /v1/jobs stores it (shared/api/jobs.ts submitJob). */
export function jobShapedItem(): Record<string, unknown> {
  const jobId = randomUUID();
  const now = new Date().toISOString();
  return {
    pk: `job#${jobId}`,
    jobId,
    ownerId: LOCAL_RESOURCES.devOwner,
    status: 'awaiting_upload',
    model: 'onnx/colors',
    contentType: 'image/jpeg',
    contentLength: 400_000,
    createdAt: now,
    updatedAt: now,
    uploadExpiresAt: now,
    attempts: 0,
    requestHash: randomUUID().replaceAll('-', '').repeat(2),
    expiresAt: Math.floor(Date.now() / 1000) + 30 * 86_400,
  };
}

export interface ApiTarget {
  endpoints: Endpoints;
  /** CPU used so far by the process serving the endpoints. */
  usage: () => ProcessUsage;
}

export async function measurePutItemRate({ endpoints, usage }: ApiTarget, durationMs: number, warmupMs: number): Promise<RateMeasurement> {
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: endpoints.region, endpoint: endpoints.dynamodb, credentials: LOCAL_RESOURCES.credentials }),
  );
  try {
    return await closedLoopRate(API_CONCURRENCY, durationMs, warmupMs, () =>
      dynamo.send(new PutCommand({ TableName: endpoints.table, Item: jobShapedItem(), ConditionExpression: 'attribute_not_exists(pk)' })),
      usage,
    );
  } finally {
    dynamo.destroy();
  }
}

export async function measureCreateJobRate({ endpoints, usage }: ApiTarget, durationMs: number, warmupMs: number): Promise<RateMeasurement> {
  const client = new PipelineClient(endpoints.apiUrl, endpoints.apiKey);
  return closedLoopRate(
    API_CONCURRENCY,
    durationMs,
    warmupMs,
    () => client.createJob({ model: 'onnx/colors', contentType: 'image/jpeg', contentLength: 400_000 }),
    usage,
  );
}
