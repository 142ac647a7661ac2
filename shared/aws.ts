import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { getConfig } from './config.ts';
import { traced } from './tracer.ts';

/**
 * AWS SDK v3 clients, created once per process on first use. Endpoints come from the standard
 * AWS_ENDPOINT_URL_<SERVICE> variables, so the same code reaches AWS or the local cloud.
 *
 * Checksums are WHEN_REQUIRED: with the SDK's default (WHEN_SUPPORTED) a presigned PUT carries
 * the CRC32 of an empty body, so every real upload would be refused, and streamed bodies get
 * aws-chunked framing that S3-compatible servers do not all speak.
 */
let s3: S3Client | undefined;
let dynamo: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;

/** The services whose clients this module makes. */
export type AwsService = 's3' | 'dynamodb' | 'sqs';
/** An SDK request handler (@smithy HttpHandler), as the clients' `requestHandler` setting takes it. */
export type RequestHandler = NonNullable<S3ClientConfig['requestHandler']>;
let requestHandlerFor: ((service: AwsService) => RequestHandler | undefined) | undefined;

/**
 * Who carries the clients' requests: by default the SDK's HTTP handler. A host that serves the
 * AWS APIs in the same process (the local cloud) sets a factory here before the handlers run;
 * nothing else changes: same protocol, same signing.
 */
export function setRequestHandlerFactory(factory: ((service: AwsService) => RequestHandler | undefined) | undefined): void {
  requestHandlerFor = factory;
  resetAwsClients();
}

export function s3Client(): S3Client {
  s3 ??= traced(
    new S3Client({
      region: getConfig().AWS_REGION,
      forcePathStyle: getConfig().S3_FORCE_PATH_STYLE,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: requestHandlerFor?.('s3'),
    }),
  );
  return s3;
}

export function documentClient(): DynamoDBDocumentClient {
  dynamo ??= DynamoDBDocumentClient.from(traced(new DynamoDBClient({ region: getConfig().AWS_REGION, requestHandler: requestHandlerFor?.('dynamodb') })), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return dynamo;
}

export function sqsClient(): SQSClient {
  sqs ??= traced(new SQSClient({ region: getConfig().AWS_REGION, requestHandler: requestHandlerFor?.('sqs') }));
  return sqs;
}

/** Forget the clients, so the next use reads the environment again (the local cloud, after setting it). */
export function resetAwsClients(): void {
  s3?.destroy();
  dynamo?.destroy();
  sqs?.destroy();
  s3 = undefined;
  dynamo = undefined;
  sqs = undefined;
}

/** A DynamoDB conditional write refused because its condition did not hold (by class, or by name across SDK copies). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as Error)?.name === 'ConditionalCheckFailedException';
}

/** Write an item only if its key is new; false (nothing written) when one already exists. */
export async function putIfAbsent(item: Record<string, unknown> & { pk: string }): Promise<boolean> {
  try {
    await documentClient().send(
      new PutCommand({ TableName: getConfig().TABLE_NAME, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** A conditional update; false (nothing written) when its condition did not hold. */
export async function updateIf(input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
  try {
    await documentClient().send(new UpdateCommand({ TableName: getConfig().TABLE_NAME, ...input }));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
