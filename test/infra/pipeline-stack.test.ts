import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiKeyFromSecretString } from '#shared/inference/gemini/api-key.ts';
import { TABLE_SCHEMA } from '#shared/jobs/table.ts';
import { API_ROUTES, CORS_POLICY, routeKey } from '../../functions/api/routes.ts';
import { acknowledgements, synthesize, type Synthesized } from './synth.ts';
import {
  actionsOf,
  BASE_GRANTS,
  CONSUME_MESSAGES,
  functionId,
  grantsOf,
  logicalId,
  only,
  PIPELINE_SERVICES,
  SEND_MESSAGES,
  statementsOf,
} from './template.ts';

/**
 * The stack, proven by targeted assertions on the synthesized template: one synth with the
 * defaults (dev) and one with every option set (prod), bundling skipped. The lifecycle's own
 * resources (webhook queue and delivery, the sweep and its schedule, indexes, metrics) are
 * specified in lifecycle.test.ts.
 */

let devSynth: Synthesized;
let prodSynth: Synthesized;
let dev: Template;
let prod: Template;

const PROD_CONTEXT = {
  stage: 'prod',
  architecture: 'x86_64',
  allowedOrigins: 'https://app.example.com,https://admin.example.com',
  maxReceiveCount: '3',
  workerTimeoutSeconds: '60',
  workerBatchSize: '4',
  workerBatchingWindowSeconds: '2',
  workerMaxConcurrency: '7',
  uploadExpirationDays: '2',
  resultExpirationDays: '14',
  apiThrottleRateLimit: '123',
  apiThrottleBurstLimit: '456',
  alarmEmail: 'oncall@example.com',
  budgetMonthlyUsd: '50',
  budgetEmail: 'billing@example.com',
  geminiSecretName: 'inference/gemini-api-key',
};

beforeAll(() => {
  devSynth = synthesize();
  dev = devSynth.template;
  prodSynth = synthesize(PROD_CONTEXT);
  prod = prodSynth.template;
}, 60_000);

const fnProps = (template: Template, service: (typeof PIPELINE_SERVICES)[number]) =>
  template.toJSON().Resources[functionId(template, service)].Properties as Record<string, any>;

describe('functions', () => {
  it('creates exactly the pipeline functions, plus CDK’s notification and auto-delete helpers', () => {
    dev.resourceCountIs('AWS::Lambda::Function', PIPELINE_SERVICES.length + 2);
    for (const service of PIPELINE_SERVICES) functionId(dev, service);
  });

  it('runs Node.js 24 on arm64 by default, x86_64 when the context says so, with tracing', () => {
    for (const service of PIPELINE_SERVICES) {
      expect(fnProps(dev, service), service).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', TracingConfig: { Mode: 'Active' } });
      expect(fnProps(prod, service).Architectures, service).toEqual(['x86_64']);
    }
  });

  it('gives each function its own log group with the stage’s retention', () => {
    dev.resourceCountIs('AWS::Logs::LogGroup', PIPELINE_SERVICES.length + 1); // one per function + API access logs
    dev.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    prod.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    const groups = PIPELINE_SERVICES.map((service) => fnProps(dev, service).LoggingConfig);
    for (const group of groups) expect(group).toEqual({ LogGroup: { Ref: expect.stringMatching(/LogGroup/) } });
    expect(new Set(groups.map((g) => g.LogGroup.Ref)).size).toBe(PIPELINE_SERVICES.length);
    expect(Object.values(prod.findResources('AWS::Logs::LogGroup')).every((r) => r.DeletionPolicy === 'Retain')).toBe(true);
  });

  it('sets the environment the config reader checks, consistent with the queue and the timeout', () => {
    const expected = {
      TABLE_NAME: { Ref: Match.stringLikeRegexp('^JobsTable') },
      BUCKET_NAME: { Ref: Match.stringLikeRegexp('^StorageBucket') },
      MAX_UPLOAD_BYTES: '52428800',
      UPLOAD_URL_TTL_SECONDS: '900',
      RESULT_URL_TTL_SECONDS: '900',
      MAX_INPUT_PIXELS: '40000000',
      JOB_RETENTION_DAYS: '30',
      MAX_RECEIVE_COUNT: '5',
      JOB_LEASE_SECONDS: '120',
      POLL_INTERVAL_SECONDS: '1',
      MODELS_DIR: '/var/task/models',
      MODELS_S3_PREFIX: 'models/',
      DEFAULT_MODEL: 'onnx/colors',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
      GEMINI_API_KEY_SECRET_ARN: Match.anyValue(),
    };
    for (const service of PIPELINE_SERVICES) {
      dev.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ ...expected, POWERTOOLS_SERVICE_NAME: service }) },
      });
    }
    // prod: the worker's lease is its timeout and its MAX_RECEIVE_COUNT is the queue's.
    prod.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 60,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'worker', JOB_LEASE_SECONDS: '60', MAX_RECEIVE_COUNT: '3' }) },
    });
    prod.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }) });
  });

  it('sizes the worker for inference and keeps the API and authorizer small', () => {
    expect(fnProps(dev, 'worker')).toMatchObject({ MemorySize: 2048, Timeout: 120 });
    expect(fnProps(dev, 'api')).toMatchObject({ MemorySize: 512, Timeout: 10 });
    expect(fnProps(dev, 'authorizer')).toMatchObject({ MemorySize: 256, Timeout: 5 });
  });
});

describe('least-privilege IAM', () => {
  it('gives no function a managed policy; each role starts from writing its own log group', () => {
    for (const service of PIPELINE_SERVICES) {
      const fnId = functionId(dev, service);
      const roleId = dev.toJSON().Resources[fnId].Properties.Role['Fn::GetAtt'][0];
      expect(dev.toJSON().Resources[roleId].Properties.ManagedPolicyArns, service).toBeUndefined();
      const logs = statementsOf(dev, fnId).find((s) => actionsOf([s]).includes('logs:PutLogEvents'))!;
      expect(actionsOf([logs])).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(JSON.stringify(logs.Resource)).toContain(`"${fnProps(dev, service).LoggingConfig.LogGroup.Ref}"`);
      expect(grantsOf(devSynth, service)['own log group']).toEqual(BASE_GRANTS['own log group']);
    }
  });

  it('grants "*" only for the X-Ray actions, which have no resource-level permissions', () => {
    for (const service of PIPELINE_SERVICES) {
      const wildcard = statementsOf(dev, functionId(dev, service)).filter((s) => [s.Resource].flat().includes('*'));
      expect(actionsOf(wildcard), service).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });

  // Each function's complete grants (toEqual: anything more fails), from the AWS calls its code makes.

  it('lets the authorizer read single items of the table and nothing else', () => {
    expect(grantsOf(devSynth, 'authorizer')).toEqual({ ...BASE_GRANTS, table: ['dynamodb:GetItem'] });
  });

  it('lets the API write jobs, list by owner, sign uploads and result downloads, nudge webhooks, and undo a failed batch', () => {
    expect(grantsOf(devSynth, 'api')).toEqual({
      ...BASE_GRANTS,
      table: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      // A batch whose creation failed deletes the jobs it wrote (shared/jobs/batch-store.ts deleteJobs): job items only.
      'table when dynamodb:LeadingKeys ForAllValues:StringLike job#*': ['dynamodb:DeleteItem'],
      // GET /v1/jobs (shared/jobs/list-jobs.ts).
      [`table/index/${TABLE_SCHEMA.ownerIndex.name}`]: ['dynamodb:Query'],
      'bucket/uploads/*': ['s3:GetObject', 's3:PutObject'],
      'bucket/results/*': ['s3:GetObject'],
      // It lists the bucket's models and reads their manifests (GET /v1/models, job creation).
      'bucket/models/*': ['s3:GetObject'],
      // Without ListBucket S3 answers a missing key with 403, not 404.
      'bucket when s3:prefix StringLike uploads/*': ['s3:ListBucket'],
      'bucket when s3:prefix StringLike results/*': ['s3:ListBucket'],
      'bucket when s3:prefix StringLike models/*': ['s3:ListBucket'],
      // A cancel or a redeliver nudges delivery.
      'webhook queue': SEND_MESSAGES,
    });
  });

  it('lets the worker read uploads and models, write results, read the Gemini key, consume the jobs queue and nudge webhooks', () => {
    expect(grantsOf(devSynth, 'worker')).toEqual({
      ...BASE_GRANTS,
      // It moves jobs through the lifecycle and never creates items.
      table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      'bucket/uploads/*': ['s3:GetObject'],
      'bucket/models/*': ['s3:GetObject'],
      'bucket/results/*': ['s3:PutObject'],
      'bucket when s3:prefix StringLike uploads/*': ['s3:ListBucket'],
      'bucket when s3:prefix StringLike models/*': ['s3:ListBucket'],
      'Gemini secret': ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      'jobs queue': CONSUME_MESSAGES,
      'webhook queue': SEND_MESSAGES,
    });
  });

  it('lets the dead-letter function update jobs, consume the jobs DLQ and nudge webhooks', () => {
    expect(grantsOf(devSynth, 'dead-letter')).toEqual({
      ...BASE_GRANTS,
      table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      'jobs DLQ': CONSUME_MESSAGES,
      'webhook queue': SEND_MESSAGES,
    });
  });

  it('lets the landed function update jobs and consume the uploads-landed queue, nothing more', () => {
    expect(grantsOf(devSynth, 'landed')).toEqual({
      ...BASE_GRANTS,
      // transition(uploadLanded): one conditional UpdateItem; it records no event, so it nudges no webhook.
      table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      'uploads-landed queue': CONSUME_MESSAGES,
    });
  });

  it('lets the webhook deliverer read jobs and batches, update their outboxes, park large results and consume (and re-queue on) its queue', () => {
    expect(grantsOf(devSynth, 'webhooks')).toEqual({
      ...BASE_GRANTS,
      // getJob / getBatch / the owner's secrets; a batch's jobs in one call; delivery bookkeeping. No PutItem.
      table: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      // An oversized payload's result goes to results/ and is linked with a presigned GET.
      'bucket/results/*': ['s3:GetObject', 's3:PutObject'],
      'bucket when s3:prefix StringLike results/*': ['s3:ListBucket'],
      // A retry within SQS's delay limit is a delayed message to its own queue.
      'webhook queue': [...new Set([...CONSUME_MESSAGES, ...SEND_MESSAGES])].sort(),
    });
  });

  it('lets the sweep query only its two timer indexes, list (not read) uploads, and send to both queues', () => {
    expect(grantsOf(devSynth, 'sweep')).toEqual({
      ...BASE_GRANTS,
      table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [`table/index/${TABLE_SCHEMA.deadlineIndex.name}`]: ['dynamodb:Query'],
      [`table/index/${TABLE_SCHEMA.webhookIndex.name}`]: ['dynamodb:Query'],
      // findUpload lists the exact key; the sweep never reads an upload's bytes.
      'bucket when s3:prefix StringLike uploads/*': ['s3:ListBucket'],
      // A stalled job's upload notification again, and due webhook deliveries (SendMessageBatch is authorized as SendMessage).
      'jobs queue': SEND_MESSAGES,
      'webhook queue': SEND_MESSAGES,
    });
  });
});

describe('dead letters', () => {
  it('consumes the jobs DLQ with partial batch failures', () => {
    dev.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId(dev, 'dead-letter') },
      EventSourceArn: { 'Fn::GetAtt': [logicalId(devSynth.stack, devSynth.stack.jobs.deadLetterQueue), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

describe('HTTP API', () => {
  it('routes every route of API_ROUTES to the API function, all but the public ones behind the authorizer', () => {
    const routes = Object.values(dev.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const byKey = Object.fromEntries(routes.map((r) => [r.RouteKey, r.AuthorizationType]));
    expect(byKey).toEqual(Object.fromEntries(API_ROUTES.map((route) => [routeKey(route), route.authenticated ? 'CUSTOM' : 'NONE'])));
    expect(routes.filter((r) => r.AuthorizationType === 'CUSTOM').every((r) => r.AuthorizerId !== undefined)).toBe(true);
    dev.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    dev.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [functionId(dev, 'api'), 'Arn'] },
    });
  });

  it('has a simple-response Lambda authorizer with no identity source and no gateway cache', () => {
    dev.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    dev.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: Match.absent(),
      AuthorizerUri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [functionId(dev, 'authorizer'), 'Arn'] }])] }),
    });
    dev.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [functionId(dev, 'authorizer'), 'Arn'] },
    });
  });

  it('says why each public route needs no key (cdk-nag APIG4), route by route', () => {
    const publicRoutes = API_ROUTES.filter((route) => !route.authenticated).map(routeKey);
    const reasons = acknowledgements(devSynth.app).filter((ack) => ack.rule === 'AwsSolutions-APIG4');
    expect(reasons).toHaveLength(publicRoutes.length);
    for (const key of publicRoutes) expect(reasons.filter((ack) => ack.reason.startsWith(`${key} `)), key).toHaveLength(1);
  });

  it('answers CORS preflights for the configured origins, with the headers clients send and read', () => {
    const cors = {
      AllowMethods: [...CORS_POLICY.allowMethods],
      AllowHeaders: [...CORS_POLICY.allowHeaders],
      ExposeHeaders: [...CORS_POLICY.exposeHeaders],
      MaxAge: CORS_POLICY.maxAgeSeconds,
    };
    // Credentials either way, replays and preferences in; polling, replays and rate limits out.
    expect(cors.AllowHeaders).toEqual(expect.arrayContaining(['content-type', 'x-api-key', 'authorization', 'idempotency-key', 'prefer']));
    expect(cors.ExposeHeaders).toEqual(
      expect.arrayContaining(['retry-after', 'location', 'idempotent-replayed', 'preference-applied', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']),
    );
    dev.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.objectLike({ ...cors, AllowOrigins: ['*'] }) });
    prod.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ ...cors, AllowOrigins: ['https://app.example.com', 'https://admin.example.com'] }),
    });
  });

  it('throttles the default route and writes JSON access logs', () => {
    dev.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
    prod.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 123, ThrottlingBurstLimit: 456 },
    });
    const [, stage] = only(dev, 'AWS::ApiGatewayV2::Stage');
    const settings = stage.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(settings.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^HttpApiAccessLogs/), 'Arn'] });
    const format = JSON.parse(settings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', routeKey: '$context.routeKey', ownerId: '$context.authorizer.ownerId' });
  });
});

describe('bucket', () => {
  it('is private, TLS-only and encrypted', () => {
    dev.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    dev.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  it('allows browser PUTs from the configured origins and exposes ETag', () => {
    prod.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({
            AllowedMethods: ['PUT', 'GET'],
            AllowedOrigins: ['https://app.example.com', 'https://admin.example.com'],
            AllowedHeaders: ['content-type', 'content-length'],
            ExposedHeaders: ['ETag'],
          }),
        ],
      },
    });
  });

  it('expires uploads/ and results/ after the configured days and aborts stale multipart uploads', () => {
    const rules = (days: [number, number]) => ({
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'uploads/', ExpirationInDays: days[0], Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'results/', ExpirationInDays: days[1], Status: 'Enabled' }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
        ]),
      },
    });
    dev.hasResourceProperties('AWS::S3::Bucket', rules([7, 30]));
    prod.hasResourceProperties('AWS::S3::Bucket', rules([2, 14]));
  });

  it('sends ObjectCreated under uploads/ to the uploads topic, once the topic lets it publish', () => {
    const topicId = logicalId(devSynth.stack, devSynth.stack.uploads.topic);
    const [, notifications] = only(dev, 'Custom::S3BucketNotifications');
    expect(notifications.Properties.NotificationConfiguration).toEqual({
      TopicConfigurations: [
        {
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
          TopicArn: { Ref: topicId },
        },
      ],
    });
    // S3 checks its right to publish when the notification is configured.
    const [policyId] = only(dev, 'AWS::SNS::TopicPolicy', { Topics: [{ Ref: topicId }] });
    expect((notifications as { DependsOn?: string[] }).DependsOn).toEqual(expect.arrayContaining([topicId, policyId]));
  });

  it('lets only this bucket, in this account, publish to the uploads topic, and only over TLS', () => {
    const topicId = logicalId(devSynth.stack, devSynth.stack.uploads.topic);
    const [, policy] = only(dev, 'AWS::SNS::TopicPolicy', { Topics: [{ Ref: topicId }] });
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'OnlyThePipelineBucketPublishes',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: {
          ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(devSynth.stack, devSynth.stack.bucket), 'Arn'] } },
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        },
      },
    ]);
  });

  it('fans the topic out to the jobs and uploads-landed queues with raw delivery (the body stays the S3 event), each letting only the topic send', () => {
    const { stack } = devSynth;
    const topicId = logicalId(stack, stack.uploads.topic);
    const subscriptions = Object.values(dev.findResources('AWS::SNS::Subscription', { Properties: { TopicArn: { Ref: topicId } } }));
    const queueIds = [stack.jobs.queue, stack.landedQueue.queue].map((queue) => logicalId(stack, queue));
    expect(subscriptions.map((s) => s.Properties)).toEqual(
      queueIds.map((queueId) => ({ Protocol: 'sqs', Endpoint: { 'Fn::GetAtt': [queueId, 'Arn'] }, RawMessageDelivery: true, TopicArn: { Ref: topicId } })),
    );
    for (const queueId of queueIds) {
      const [, policy] = only(dev, 'AWS::SQS::QueuePolicy', { Queues: [{ Ref: queueId }] });
      const allows = policy.Properties.PolicyDocument.Statement.filter((s: { Effect: string }) => s.Effect === 'Allow');
      expect(allows).toEqual([
        {
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
          Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topicId } } },
        },
      ]);
    }
    // Nothing else may send to the jobs queue from outside the account (S3 no longer does directly).
    expect(JSON.stringify(dev.findResources('AWS::SQS::QueuePolicy'))).not.toContain('s3.amazonaws.com');
  });

  it('is emptied and deleted with a dev stack, and kept with a prod stack', () => {
    dev.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    dev.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    prod.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    prod.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('queues', () => {
  it('encrypts every queue (jobs, uploads-landed, webhooks, and their DLQs) and refuses non-TLS access', () => {
    dev.resourceCountIs('AWS::SQS::Queue', 6);
    dev.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    const policies = Object.values(dev.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(6);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('sets the jobs queue’s visibility timeout to 6 × the worker timeout plus the batching window', () => {
    const jobsQueue = (synth: Synthesized) => synth.template.toJSON().Resources[logicalId(synth.stack, synth.stack.jobs.queue)].Properties;
    expect(jobsQueue(devSynth)).toMatchObject({ VisibilityTimeout: 6 * 120 + 1, RedrivePolicy: { maxReceiveCount: 5 } });
    expect(jobsQueue(prodSynth)).toMatchObject({ VisibilityTimeout: 6 * 60 + 2, RedrivePolicy: { maxReceiveCount: 3 } });
  });

  it('keeps dead letters 14 days', () => {
    const { stack } = devSynth;
    for (const queues of [stack.jobs, stack.landedQueue, stack.webhookQueue]) {
      const dlqId = logicalId(stack, queues.deadLetterQueue);
      expect(dev.toJSON().Resources[dlqId].Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      expect(dev.toJSON().Resources[logicalId(stack, queues.queue)].Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: 5,
      });
    }
  });

  it('feeds the worker in batches with partial failures and a concurrency cap', () => {
    const queueId = logicalId(devSynth.stack, devSynth.stack.jobs.queue);
    dev.resourceCountIs('AWS::Lambda::EventSourceMapping', 4); // the worker's, the DLQ consumer's, the landed function's, the webhook deliverer's
    dev.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: functionId(dev, 'worker') },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    prod.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId(prod, 'worker') },
      BatchSize: 4,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 7 },
    });
  });
});

describe('table', () => {
  // Its indexes (byOwner, byDeadline, byWebhookDue) are specified in lifecycle.test.ts.
  it('is on demand with TTL and point-in-time recovery', () => {
    dev.resourceCountIs('AWS::DynamoDB::Table', 1);
    dev.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is deleted with a dev stack and retained (and deletion-protected) in prod', () => {
    dev.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ DeletionProtectionEnabled: false }) });
    prod.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ DeletionProtectionEnabled: true }) });
  });
});

describe('Gemini API key secret', () => {
  it('is created by the stack, holding no key until one is put, unless a name is given', () => {
    dev.resourceCountIs('AWS::SecretsManager::Secret', 1);
    dev.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: '{"apiKey":""}', GenerateSecretString: Match.absent() });
    expect(apiKeyFromSecretString('{"apiKey":""}')).toBeUndefined();
    dev.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    prod.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  it('is imported by name and readable by the worker only', () => {
    const workerStatements = statementsOf(prod, functionId(prod, 'worker'));
    const read = workerStatements.find((s) => actionsOf([s]).includes('secretsmanager:GetSecretValue'))!;
    expect(JSON.stringify(read.Resource)).toContain(':secret:inference/gemini-api-key-??????');
    for (const service of PIPELINE_SERVICES.filter((s) => s !== 'worker')) {
      expect(actionsOf(statementsOf(prod, functionId(prod, service))).filter((a) => a.startsWith('secretsmanager:')), service).toEqual([]);
    }
  });
});

describe('alarms and budget', () => {
  // The lifecycle's alarms (webhook failure rate, stuck jobs, sweep errors) are specified in lifecycle.test.ts.
  it('alarms to one SNS topic on dead-lettered jobs, an undrained DLQ, queue age, worker errors and throttles, and API 5xx', () => {
    // Two topics: the alarms' and the uploads fan-out.
    dev.resourceCountIs('AWS::SNS::Topic', 2);
    only(dev, 'AWS::SNS::Topic', { DisplayName: 'Async inference pipeline alarms' });
    dev.resourceCountIs('AWS::CloudWatch::Alarm', 6 + 3);
    const alarm = (metric: string, namespace: string, extra: object = {}) =>
      dev.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: namespace,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
        ...extra,
      });
    alarm('Invocations', 'AWS/Lambda', { Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(dev, 'dead-letter') } }], Threshold: 1 });
    alarm('ApproximateNumberOfMessagesVisible', 'AWS/SQS', { Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3 });
    alarm('ApproximateAgeOfOldestMessage', 'AWS/SQS', { Threshold: 600 });
    alarm('Errors', 'AWS/Lambda', { Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(dev, 'worker') } }] });
    alarm('Throttles', 'AWS/Lambda', { Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(dev, 'worker') } }] });
    alarm('5xx', 'AWS/ApiGateway');
  });

  it('subscribes an e-mail to the alarm topic only when one is given', () => {
    const emails = (template: Template) => Object.values(template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'email' } }));
    expect(emails(dev)).toEqual([]);
    expect(emails(prod).map((s) => s.Properties)).toEqual([
      { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: { Ref: expect.stringMatching(/^AlarmsTopic/) } },
    ]);
  });

  it('refuses non-TLS publishing to the alarm topic', () => {
    dev.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('creates a monthly budget only when an amount and an e-mail are given', () => {
    dev.resourceCountIs('AWS::Budgets::Budget', 0);
    prod.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 50, Unit: 'USD' } },
      NotificationsWithSubscribers: Match.arrayWith([
        Match.objectLike({ Subscribers: [{ SubscriptionType: 'EMAIL', Address: 'billing@example.com' }] }),
      ]),
    });
  });
});

describe('outputs', () => {
  it('exports the API URL, bucket, queue URL and table', () => {
    dev.hasOutput('ApiUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['https://', { Ref: Match.stringLikeRegexp('^HttpApi') }])] } });
    dev.hasOutput('BucketName', { Value: { Ref: Match.stringLikeRegexp('^StorageBucket') } });
    dev.hasOutput('QueueUrl', { Value: { Ref: Match.stringLikeRegexp('^JobsQueue') } });
    dev.hasOutput('TableName', { Value: { Ref: Match.stringLikeRegexp('^JobsTable') } });
  });
});
