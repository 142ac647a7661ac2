import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { apiBundling, BUNDLED_MODELS_DIR, workerBundling } from './constructs/bundling.ts';
import { ApiDomain } from './constructs/api-domain.ts';
import { PipelineHttpApi } from './constructs/http-api.ts';
import { JwtIssuer } from './constructs/jwt-issuer.ts';
import { JobsQueue } from './constructs/jobs-queue.ts';
import { JobsTable } from './constructs/jobs-table.ts';
import { CostBudget, PipelineAlarms } from './constructs/monitoring.ts';
import { MODEL_PREFIX, PipelineBucket, RESULT_PREFIX, UPLOAD_PREFIX } from './constructs/pipeline-bucket.ts';
import { acknowledge } from './constructs/nag.ts';
import { PipelineFunction } from './constructs/pipeline-function.ts';
import { UploadNotifications } from './constructs/upload-notifications.ts';
import { LANDED_BATCH_SIZE, LANDED_MAX_CONCURRENCY, LANDED_TIMEOUT_SECONDS } from '../functions/landed/limits.ts';
import type { PipelineSettings } from './settings.ts';
import { TABLE_SCHEMA } from '../shared/jobs/table.ts';

/** The webhook delivery function's timeout: two 15 s calls at most per message. */
export const WEBHOOK_TIMEOUT_SECONDS = 30;
/** Where the functions' Powertools metrics go (CloudWatch EMF). */
export const METRICS_NAMESPACE = 'InferencePipeline';
/** Deliveries in flight at most: receivers are other people's servers. */
export const WEBHOOK_MAX_CONCURRENCY = 10;

/** The created Gemini secret's value until someone puts the key (shared/inference/gemini/api-key.ts reads it as "no key"). */
export const EMPTY_GEMINI_SECRET = JSON.stringify({ apiKey: '' });

export interface PipelineStackProps extends StackProps {
  readonly settings: PipelineSettings;
}

/**
 * The whole pipeline in one stack: HTTP API (+ API-key authorizer) → API function → table and
 * presigned S3 uploads; S3 ObjectCreated on uploads/ → SNS topic → jobs queue (+ DLQ) → worker, and
 * → uploads-landed queue (+ DLQ) → landed function (the job reads `queued` at once); alarms.
 */
export class PipelineStack extends Stack {
  readonly settings: PipelineSettings;
  readonly table: JobsTable['table'];
  readonly bucket: s3.Bucket;
  readonly jobs: JobsQueue;
  readonly landedQueue: JobsQueue;
  readonly uploads: UploadNotifications;
  readonly geminiApiKey: secretsmanager.ISecret;
  readonly apiFunction: PipelineFunction;
  readonly authorizerFunction: PipelineFunction;
  readonly workerFunction: PipelineFunction;
  readonly deadLetterFunction: PipelineFunction;
  readonly landedFunction: PipelineFunction;
  readonly webhookQueue: JobsQueue;
  readonly webhooksFunction: PipelineFunction;
  readonly sweepFunction: PipelineFunction;
  readonly httpApi: PipelineHttpApi;
  readonly jwtIssuer?: JwtIssuer;
  readonly apiDomain?: ApiDomain;
  readonly alarms: PipelineAlarms;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const settings = (this.settings = props.settings);
    const dataRemovalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = settings.logRetentionDays;
    const workerTimeout = Duration.seconds(settings.workerTimeoutSeconds);
    const batchingWindow = Duration.seconds(settings.workerBatchingWindowSeconds);

    // Data
    this.table = new JobsTable(this, 'Jobs', { retain: settings.retainData }).table;
    this.bucket = new PipelineBucket(this, 'Storage', {
      allowedOrigins: settings.allowedOrigins,
      uploadExpirationDays: settings.uploadExpirationDays,
      resultExpirationDays: settings.resultExpirationDays,
      retain: settings.retainData,
    }).bucket;
    this.jobs = new JobsQueue(this, 'JobsQueue', {
      workerTimeout,
      batchingWindow,
      maxReceiveCount: settings.maxReceiveCount,
    });
    // The uploads-landed queue: the same notification, for the function that marks each job queued
    // as soon as its upload lands, however long its message waits for a worker.
    this.landedQueue = new JobsQueue(this, 'LandedQueue', {
      workerTimeout: Duration.seconds(LANDED_TIMEOUT_SECONDS),
      batchingWindow: Duration.seconds(0),
      maxReceiveCount: settings.maxReceiveCount,
    });
    this.uploads = new UploadNotifications(this, 'Uploads', {
      bucket: this.bucket,
      prefix: UPLOAD_PREFIX,
      subscribers: [this.jobs.queue, this.landedQueue.queue],
    });
    // Webhook deliveries: a nudge per recorded event (the event itself is on the job item).
    this.webhookQueue = new JobsQueue(this, 'WebhookQueue', {
      workerTimeout: Duration.seconds(WEBHOOK_TIMEOUT_SECONDS),
      batchingWindow: Duration.seconds(0),
      maxReceiveCount: settings.maxReceiveCount,
    });

    this.geminiApiKey = settings.geminiSecretName
      ? secretsmanager.Secret.fromSecretNameV2(this, 'GeminiApiKey', settings.geminiSecretName)
      : new secretsmanager.Secret(this, 'GeminiApiKey', {
          description: 'Google Gemini API key used by the worker for gemini/* models. Set its value after deploying (README).',
          // An empty placeholder, not CDK's default random string: until a real key is put, the
          // worker reports "no key" instead of sending Google a made-up one.
          secretStringValue: SecretValue.unsafePlainText(EMPTY_GEMINI_SECRET),
          removalPolicy: dataRemovalPolicy,
        });
    if (this.geminiApiKey instanceof secretsmanager.Secret) {
      acknowledge(
        this.geminiApiKey,
        'AwsSolutions-SMG4',
        'A third-party (Google) API key: it is issued and rotated in Google AI Studio, which a rotation Lambda cannot do. Rotate by putting the new value (README).',
      );
    }

    // Access: who may call (keys, JWTs from a given issuer or a user pool made here, or both).
    if (settings.auth !== 'apiKey') {
      this.jwtIssuer = new JwtIssuer(this, 'JwtIssuer', {
        issuer: settings.jwtIssuer,
        audience: settings.jwtAudience,
        removalPolicy: dataRemovalPolicy,
      });
    }

    // Functions: one environment for all, as the one config reader (shared/config.ts) checks it whole.
    const environment: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      BUCKET_NAME: this.bucket.bucketName,
      MAX_UPLOAD_BYTES: String(settings.maxUploadBytes),
      UPLOAD_URL_TTL_SECONDS: String(settings.uploadUrlTtlSeconds),
      RESULT_URL_TTL_SECONDS: String(settings.resultUrlTtlSeconds),
      MAX_INPUT_PIXELS: String(settings.maxInputPixels),
      JOB_RETENTION_DAYS: String(settings.jobRetentionDays),
      MAX_RECEIVE_COUNT: String(settings.maxReceiveCount),
      JOB_LEASE_SECONDS: String(settings.workerTimeoutSeconds),
      POLL_INTERVAL_SECONDS: String(settings.pollIntervalSeconds),
      MODELS_DIR: BUNDLED_MODELS_DIR,
      // Models too big to bundle: put <name>.json and its .onnx under models/ in the bucket.
      MODELS_S3_PREFIX: MODEL_PREFIX,
      DEFAULT_MODEL: settings.defaultModel,
      GEMINI_API_KEY_SECRET_ARN: this.geminiApiKey.secretArn,
      POWERTOOLS_LOG_LEVEL: settings.logLevel,
      AUTH_MODE: settings.auth,
      JOBS_QUEUE_URL: this.jobs.queue.queueUrl,
      WEBHOOK_QUEUE_URL: this.webhookQueue.queue.queueUrl,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      ...(this.jwtIssuer ? { JWT_ISSUER: this.jwtIssuer.issuer, JWT_AUDIENCE: this.jwtIssuer.audience } : {}),
    };
    const common = {
      architecture: settings.architecture,
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
    };

    this.authorizerFunction = new PipelineFunction(this, 'AuthorizerFunction', {
      ...common,
      entry: 'functions/authorizer/index.ts',
      description: 'HTTP API authorizer: resolves x-api-key to its owner',
      memorySize: 256,
      timeout: Duration.seconds(5),
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'authorizer' },
    });
    this.authorizerFunction.grantTable(this.table, 'read');

    this.apiFunction = new PipelineFunction(this, 'ApiFunction', {
      ...common,
      entry: 'functions/api/index.ts',
      description: 'HTTP API v1: create jobs with presigned uploads, report status, cancel, list models',
      memorySize: settings.apiMemoryMb,
      timeout: Duration.seconds(settings.apiTimeoutSeconds),
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'api' },
      bundling: apiBundling(),
    });
    // deleteJobs: a batch whose creation failed removes the jobs it had written.
    this.apiFunction.grantTable(this.table, 'readWrite', { batchRead: true, deleteJobs: true });
    this.apiFunction.grantIndexQuery(this.table, [TABLE_SCHEMA.ownerIndex.name]);
    // A cancel records job.canceled and nudges its delivery.
    this.webhookQueue.queue.grantSendMessages(this.apiFunction);
    this.apiFunction.grantObjects(this.bucket, UPLOAD_PREFIX, ['write', 'read']);
    this.apiFunction.grantObjects(this.bucket, RESULT_PREFIX, ['read']);
    // GET /v1/models and job creation list the bucket's models (manifests only).
    this.apiFunction.grantObjects(this.bucket, MODEL_PREFIX, ['read']);

    this.workerFunction = new PipelineFunction(this, 'WorkerFunction', {
      ...common,
      entry: 'functions/worker/index.ts',
      description: 'Worker: runs inference for uploaded images from the jobs queue',
      memorySize: settings.workerMemoryMb,
      timeout: workerTimeout,
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'worker' },
      bundling: workerBundling(settings.architecture),
    });
    this.workerFunction.grantTable(this.table, 'update');
    this.workerFunction.grantObjects(this.bucket, UPLOAD_PREFIX, ['read']);
    this.workerFunction.grantObjects(this.bucket, RESULT_PREFIX, ['write']);
    this.workerFunction.grantObjects(this.bucket, MODEL_PREFIX, ['read']);
    this.geminiApiKey.grantRead(this.workerFunction);
    this.webhookQueue.queue.grantSendMessages(this.workerFunction);
    this.workerFunction.addEventSource(
      new SqsEventSource(this.jobs.queue, {
        batchSize: settings.workerBatchSize,
        maxBatchingWindow: batchingWindow.toSeconds() > 0 ? batchingWindow : undefined,
        reportBatchItemFailures: true,
        maxConcurrency: settings.workerMaxConcurrency,
      }),
    );

    // The dead-letter queue's consumer fails the jobs whose messages ran out of deliveries
    // without a final decision (a crash or timeout on the last one), so no job waits forever.
    this.deadLetterFunction = new PipelineFunction(this, 'DeadLetterFunction', {
      ...common,
      entry: 'functions/dead-letter/index.ts',
      description: 'Dead-letter consumer: fails jobs whose messages ran out of deliveries',
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'dead-letter' },
    });
    this.deadLetterFunction.grantTable(this.table, 'update');
    this.webhookQueue.queue.grantSendMessages(this.deadLetterFunction);
    this.deadLetterFunction.addEventSource(
      new SqsEventSource(this.jobs.deadLetterQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    // Marks jobs queued when their uploads land (awaiting_upload → queued); it only ever makes that one write.
    this.landedFunction = new PipelineFunction(this, 'LandedFunction', {
      ...common,
      entry: 'functions/landed/index.ts',
      description: 'Uploads landed: marks each job whose upload landed queued',
      memorySize: 256,
      timeout: Duration.seconds(LANDED_TIMEOUT_SECONDS),
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'landed' },
    });
    this.landedFunction.grantTable(this.table, 'update');
    this.landedFunction.addEventSource(
      new SqsEventSource(this.landedQueue.queue, { batchSize: LANDED_BATCH_SIZE, reportBatchItemFailures: true, maxConcurrency: LANDED_MAX_CONCURRENCY }),
    );

    // Webhook delivery: signs and POSTs each recorded event, retrying on the schedule (shared/webhooks).
    this.webhooksFunction = new PipelineFunction(this, 'WebhooksFunction', {
      ...common,
      entry: 'functions/webhooks/index.ts',
      description: 'Webhook delivery: signed POSTs of job and batch events, at least once',
      memorySize: 256,
      timeout: Duration.seconds(WEBHOOK_TIMEOUT_SECONDS),
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'webhooks' },
    });
    this.webhooksFunction.grantTable(this.table, 'update', { batchRead: true });
    // A payload over the cap carries its result as a presigned URL of a copy under results/.
    this.webhooksFunction.grantObjects(this.bucket, RESULT_PREFIX, ['write', 'read']);
    this.webhookQueue.queue.grantSendMessages(this.webhooksFunction);
    this.webhooksFunction.addEventSource(
      new SqsEventSource(this.webhookQueue.queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: WEBHOOK_MAX_CONCURRENCY }),
    );

    // The sweep: what no request and no storage event does (expiry, lost notifications, due webhooks).
    this.sweepFunction = new PipelineFunction(this, 'SweepFunction', {
      ...common,
      entry: 'functions/sweep/index.ts',
      description: 'Scheduled sweep: expires lapsed uploads, re-notifies stalled jobs, hands due webhooks to delivery',
      memorySize: 256,
      timeout: Duration.seconds(60),
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: 'sweep' },
    });
    this.sweepFunction.grantTable(this.table, 'update');
    this.sweepFunction.grantIndexQuery(this.table, [TABLE_SCHEMA.deadlineIndex.name, TABLE_SCHEMA.webhookIndex.name]);
    // Whether an upload landed: a listing of its exact key (never HeadObject, whose 403 for a missing
    // key would be ambiguous). The sweep never reads the bytes, so it gets the listing only.
    this.sweepFunction.grantObjects(this.bucket, UPLOAD_PREFIX, ['list']);
    this.jobs.queue.grantSendMessages(this.sweepFunction);
    this.webhookQueue.queue.grantSendMessages(this.sweepFunction);
    new events.Rule(this, 'SweepSchedule', {
      description: 'Runs the sweep every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.sweepFunction, { retryAttempts: 0 })],
    });

    // HTTP API
    this.httpApi = new PipelineHttpApi(this, 'HttpApi', {
      apiFunction: this.apiFunction,
      authorizerFunction: this.authorizerFunction,
      allowedOrigins: settings.allowedOrigins,
      throttleRateLimit: settings.apiThrottleRateLimit,
      throttleBurstLimit: settings.apiThrottleBurstLimit,
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
      auth: settings.auth,
      ...(this.jwtIssuer ? { jwt: { issuer: this.jwtIssuer.issuer, audience: this.jwtIssuer.audience } } : {}),
    });
    if (settings.domainName) {
      this.apiDomain = new ApiDomain(this, 'ApiDomain', {
        domainName: settings.domainName,
        api: this.httpApi.api,
        stage: this.httpApi.stage,
        certificateArn: settings.certificateArn,
        ...(settings.hostedZoneId && settings.hostedZoneName ? { hostedZone: { id: settings.hostedZoneId, name: settings.hostedZoneName } } : {}),
      });
    }

    // Operations
    this.alarms = new PipelineAlarms(this, 'Alarms', {
      queue: this.jobs.queue,
      deadLetterQueue: this.jobs.deadLetterQueue,
      worker: this.workerFunction,
      deadLetters: this.deadLetterFunction,
      webhooks: this.webhooksFunction,
      sweep: this.sweepFunction,
      webhookDeadLetterQueue: this.webhookQueue.deadLetterQueue,
      metricsNamespace: METRICS_NAMESPACE,
      api: this.httpApi.api,
      queueAgeThreshold: Duration.seconds(settings.queueAgeAlarmSeconds),
      email: settings.alarmEmail,
    });
    if (settings.budgetMonthlyUsd !== undefined && settings.budgetEmail) {
      new CostBudget(this, 'Budget', { monthlyUsd: settings.budgetMonthlyUsd, email: settings.budgetEmail });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.apiDomain?.url ?? this.httpApi.url, description: 'Base URL of the HTTP API (routes under /v1)' });
    if (this.jwtIssuer) {
      new CfnOutput(this, 'JwtIssuerUrl', { value: this.jwtIssuer.issuer, description: 'Issuer of the JWTs the API accepts' });
      new CfnOutput(this, 'JwtAudience', { value: this.jwtIssuer.audience, description: 'Audience (app client id) the JWTs must carry' });
    }
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'Uploads and large results' });
    new CfnOutput(this, 'QueueUrl', { value: this.jobs.queue.queueUrl, description: 'Jobs queue (S3 upload events)' });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.jobs.deadLetterQueue.queueUrl, description: 'Jobs that failed every attempt' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Jobs and hashed API keys' });
    new CfnOutput(this, 'GeminiApiKeySecretArn', { value: this.geminiApiKey.secretArn, description: 'Put the Gemini API key here' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Subscribe to receive alarms' });

    this.acknowledgeCdkNotificationHandler();
  }

  /**
   * CDK applies the bucket's event notification with a singleton function of its own
   * (BucketNotificationsHandler), whose role CDK gives the AWS-managed basic execution policy.
   */
  private acknowledgeCdkNotificationHandler(): void {
    for (const child of this.node.children) {
      if (child.node.id.startsWith('BucketNotificationsHandler')) {
        acknowledge(
          child,
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          "CDK's own BucketNotificationsHandler (applies the S3 → SNS notification at deploy time): CDK creates its role with AWSLambdaBasicExecutionRole and offers no way to replace it.",
        );
      }
    }
  }
}
