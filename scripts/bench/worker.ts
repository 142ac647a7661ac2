import { randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { JobView } from '#shared/jobs/views.ts';
import { documentClient, s3Client } from '#shared/aws.ts';
import { type PipelineClient, uploadToPresignedUrl } from '#shared/client/pipeline-client.ts';
import { getConfig } from '#shared/config.ts';
import type { ClassificationResult } from '#shared/inference/tasks/classification/result.ts';
import { uploadKey } from '#shared/storage/keys.ts';
import { toSqsRecord } from '../local-cloud/event-source.ts';
import { s3EventRecord } from '../local-cloud/notifications.ts';
import type { BenchImage, BenchModel } from './fixtures.ts';
import { type Summary, summarize } from './stats.ts';

/**
 * Measurement 2, the worker: the worker handler called directly, one SQS record per call, for a
 * job whose image is uploaded to the local cloud: claim, read from S3, validate, preprocess,
 * infer, write the result. The local event source must be stopped, so the handler runs alone.
 */

export type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

/** The emulated function timeout for direct calls (the deadline the handler computes from it). */
const FUNCTION_TIMEOUT_MS = 60_000;

export function lambdaContext(timeoutMs = FUNCTION_TIMEOUT_MS): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'bench-worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:bench-worker',
    memoryLimitInMB: '2048',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/bench-worker',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The SQS event the bucket notification would deliver for a job's upload, as the local event source builds it. */
export function uploadEvent(bucket: string, region: string, jobId: string, size: number): SQSEvent {
  const body = JSON.stringify({
    Records: [s3EventRecord({ bucket, key: uploadKey(jobId), size, eventName: 'ObjectCreated:Put' }, region, 'bench')],
  });
  const message = {
    MessageId: randomUUID(),
    ReceiptHandle: randomUUID(),
    Body: body,
    Attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) },
  };
  return { Records: [toSqsRecord(message, `arn:aws:sqs:${region}:000000000000:bench`, region)] };
}

/** Create a job and upload its image: what a client does before the worker sees anything. */
export async function uploadedJob(client: PipelineClient, model: BenchModel, image: BenchImage): Promise<string> {
  const job = await client.createJob({ model: model.name, contentType: 'image/jpeg', contentLength: image.bytes.length });
  await uploadToPresignedUrl(job.upload, image.bytes);
  return job.jobId;
}

export interface WorkerMeasurement {
  model: string;
  image: string;
  /** Handler call, wall clock. */
  handlerMs: Summary;
  /** What the worker itself reported in the result's timings. */
  preprocessMs: Summary;
  inferenceMs: Summary;
}

export async function measureWorker(options: {
  handler: WorkerHandler;
  client: PipelineClient;
  bucket: string;
  region: string;
  model: BenchModel;
  images: BenchImage[];
  iterations: number;
  warmup: number;
}): Promise<WorkerMeasurement> {
  const handlerMs: number[] = [];
  const preprocessMs: number[] = [];
  const inferenceMs: number[] = [];
  for (let i = 0; i < options.warmup + options.iterations; i++) {
    const image = options.images[i % options.images.length]!;
    const jobId = await uploadedJob(options.client, options.model, image);
    const event = uploadEvent(options.bucket, options.region, jobId, image.bytes.length);
    const start = performance.now();
    const response = await options.handler(event, lambdaContext());
    const elapsed = performance.now() - start;
    if (response && response.batchItemFailures.length > 0) throw new Error(`the worker reported a failure for job ${jobId}`);
    const { job } = await options.client.getJob(jobId);
    const result = succeededResult(job);
    if (i < options.warmup) continue;
    handlerMs.push(elapsed);
    preprocessMs.push(result.timings.preprocessMs);
    inferenceMs.push(result.timings.inferenceMs);
  }
  return {
    model: options.model.label,
    image: options.images[0]!.size.label,
    handlerMs: summarize(handlerMs),
    preprocessMs: summarize(preprocessMs),
    inferenceMs: summarize(inferenceMs),
  };
}

export function succeededResult(job: JobView): ClassificationResult {
  if (job.status !== 'succeeded') throw new Error(`job ${job.jobId} ended ${job.status}: ${JSON.stringify(job.error)}`);
  return job.result as ClassificationResult;
}

export interface IoFloor {
  updateItemMs: Summary;
  getObjectMs: Summary;
  /** Two conditional writes (claim, complete) and one read of the upload: what every job costs besides compute. */
  perJobMs: number;
}

/**
 * The worker's I/O floor on this cloud: one UpdateItem and one GetObject of an uploaded image,
 * timed alone with the worker's own SDK clients (shared/aws.ts). A job makes two such writes
 * (claim, complete) and one read.
 */
export async function measureIoFloor(options: { client: PipelineClient; model: BenchModel; image: BenchImage; iterations: number }): Promise<IoFloor> {
  const jobId = await uploadedJob(options.client, options.model, options.image);
  const { TABLE_NAME, BUCKET_NAME } = getConfig();
  const updates: number[] = [];
  const reads: number[] = [];
  for (let i = 0; i < options.iterations + 1; i++) {
    let start = performance.now();
    await documentClient().send(
      new UpdateCommand({
        TableName: TABLE_NAME,
        Key: { pk: 'bench#io-floor' },
        UpdateExpression: 'SET #n = :n',
        ConditionExpression: 'attribute_not_exists(pk) OR #n <> :n',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':n': i },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const update = performance.now() - start;
    start = performance.now();
    const object = await s3Client().send(new GetObjectCommand({ Bucket: BUCKET_NAME, Key: uploadKey(jobId) }));
    await object.Body!.transformToByteArray();
    const read = performance.now() - start;
    if (i === 0) continue; // warm-up
    updates.push(update);
    reads.push(read);
  }
  const updateItemMs = summarize(updates);
  const getObjectMs = summarize(reads);
  return { updateItemMs, getObjectMs, perJobMs: 2 * updateItemMs.p50 + getObjectMs.p50 };
}
