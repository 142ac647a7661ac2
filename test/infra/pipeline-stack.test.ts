import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiKeyFromSecretString } from '#shared/inference/gemini/api-key.ts';
import { TABLE_SCHEMA } from '#shared/jobs/table.ts';
import { synthesize } from './synth.ts';

/**
 * The stack, proven by targeted assertions on the synthesized template: one synth with the
 * defaults (dev) and one with every option set (prod), bundling skipped.
 */

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
  dev = synthesize().template;
  prod = synthesize(PROD_CONTEXT).template;
}, 60_000);

/** The one resource of a type whose properties match, with its logical id. */
function only(template: Template, type: string, props: object = {}): [string, { Properties: Record<string, unknown> }] {
  const found = Object.entries(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found, `${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, { Properties: Record<string, unknown> }];
}

function functionId(template: Template, serviceName: string): string {
  return only(template, 'AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: serviceName }) },
  })[0];
}

/** Every statement of the role policy attached to a function's role. */
function statementsOf(template: Template, fnId: string): Array<Record<string, any>> {
  const fn = template.toJSON().Resources[fnId];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }),
  ) as Array<{ Properties: { PolicyDocument: { Statement: Array<Record<string, any>> } } }>;
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(statements: Array<Record<string, any>>): string[] {
  return statements.flatMap((s) => [s.Action].flat()).sort();
}

describe('functions', () => {
  it('creates exactly the four pipeline functions, plus CDK’s notification and auto-delete helpers', () => {
    dev.resourceCountIs('AWS::Lambda::Function', 6);
    for (const service of ['api', 'authorizer', 'worker', 'dead-letter']) functionId(dev, service);
  });

  it('runs Node.js 24 on arm64 by default, x86_64 when the context says so, with tracing', () => {
    for (const service of ['api', 'authorizer', 'worker']) {
      const [, devFn] = only(dev, 'AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } });
      expect(devFn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', TracingConfig: { Mode: 'Active' } });
      const [, prodFn] = only(prod, 'AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } });
      expect(prodFn.Properties.Architectures).toEqual(['x86_64']);
    }
  });

  it('gives each function its own log group with the stage’s retention', () => {
    dev.resourceCountIs('AWS::Logs::LogGroup', 5); // four functions + API access logs
    dev.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    prod.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    for (const service of ['api', 'authorizer', 'worker', 'dead-letter']) {
      const [, fn] = only(dev, 'AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) } });
      expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: expect.stringMatching(/LogGroup/) } });
    }
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
    for (const service of ['api', 'authorizer', 'worker']) {
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
    dev.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'worker' }) },
    });
    dev.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 512,
      Timeout: 10,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'api' }) },
    });
    dev.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 256,
      Timeout: 5,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'authorizer' }) },
    });
  });
});

describe('least-privilege IAM', () => {
  it('gives no function a managed policy; each role starts from writing its own log group', () => {
    for (const service of ['api', 'authorizer', 'worker', 'dead-letter']) {
      const fnId = functionId(dev, service);
      const roleId = dev.toJSON().Resources[fnId].Properties.Role['Fn::GetAtt'][0];
      expect(dev.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
      const logs = statementsOf(dev, fnId).find((s) => actionsOf([s]).includes('logs:PutLogEvents'))!;
      expect(actionsOf([logs])).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(JSON.stringify(logs.Resource)).toMatch(new RegExp(`${{ api: 'Api', worker: 'Worker', authorizer: 'Authorizer', 'dead-letter': 'DeadLetter' }[service]}FunctionLogGroup`));
    }
  });

  it('grants "*" only for the X-Ray actions, which have no resource-level permissions', () => {
    for (const service of ['api', 'authorizer', 'worker', 'dead-letter']) {
      const wildcard = statementsOf(dev, functionId(dev, service)).filter((s) => s.Resource === '*');
      expect(actionsOf(wildcard)).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });

  it('lets the authorizer read single items of the table and nothing else', () => {
    const statements = statementsOf(dev, functionId(dev, 'authorizer'));
    const data = statements.filter((s) => !actionsOf([s]).some((a) => a.startsWith('logs:') || a.startsWith('xray:')));
    expect(actionsOf(data)).toEqual(['dynamodb:GetItem']);
    expect(data[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^JobsTable/), 'Arn'] });
  });

  it('lets the API write jobs, sign uploads and result downloads, and check whether an upload landed', () => {
    const statements = statementsOf(dev, functionId(dev, 'api'));
    expect(actionsOf(statements.filter((s) => JSON.stringify(s.Resource).includes('JobsTable')))).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    const objectActions = (prefix: string) =>
      actionsOf(statements.filter((s) => s.Action !== 's3:ListBucket' && JSON.stringify(s.Resource).includes(`/${prefix}`)));
    expect(objectActions('uploads/*')).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(objectActions('results/*')).toEqual(['s3:GetObject']);
    // Without ListBucket S3 answers a missing key with 403, not 404.
    expect(statements).toContainEqual(listStatement('uploads/*'));
    // It lists the bucket's models and reads their manifests (GET /v1/models, job creation).
    expect(objectActions('models/*')).toEqual(['s3:GetObject']);
    expect(statements).toContainEqual(listStatement('models/*'));
    expect(actionsOf(statements)).not.toContain('s3:DeleteObject');
    expect(actionsOf(statements).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('lets the worker read uploads and models, write results, read the Gemini key, and consume the queue', () => {
    const statements = statementsOf(dev, functionId(dev, 'worker'));
    // It moves jobs through the lifecycle and never creates items.
    expect(actionsOf(statements.filter((s) => JSON.stringify(s.Resource).includes('JobsTable')))).toEqual([
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    ]);
    const objectGrants = statements.filter((s) => JSON.stringify(s.Resource).includes('/uploads/*') || JSON.stringify(s.Resource).includes('/results/*') || JSON.stringify(s.Resource).includes('/models/*'));
    const byPrefix = (prefix: string) => actionsOf(objectGrants.filter((s) => JSON.stringify(s.Resource).includes(prefix)));
    expect(byPrefix('/uploads/*')).toEqual(['s3:GetObject']);
    expect(byPrefix('/models/*')).toEqual(['s3:GetObject']);
    expect(statements).toContainEqual(listStatement('models/*'));
    expect(byPrefix('/results/*')).toEqual(['s3:PutObject']);
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Resource: { Ref: expect.stringMatching(/^GeminiApiKey/) } }),
    );
    expect(actionsOf(statements)).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']));
    expect(actionsOf(statements)).not.toContain('sqs:SendMessage');
  });
});

describe('dead letters', () => {
  it('lets the dead-letter function read and update jobs only, and consume the DLQ with partial batch failures', () => {
    const statements = statementsOf(dev, functionId(dev, 'dead-letter'));
    const data = statements.filter((s) => !actionsOf([s]).some((a) => a.startsWith('logs:') || a.startsWith('xray:') || a.startsWith('sqs:')));
    expect(actionsOf(data)).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    dev.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId(dev, 'dead-letter') },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetter'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

function listStatement(prefix: string) {
  return expect.objectContaining({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': [prefix] } } });
}

describe('HTTP API', () => {
  it('routes every v1 route to the API function, all but health behind the authorizer', () => {
    const routes = Object.values(dev.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const byKey = Object.fromEntries(routes.map((r) => [r.RouteKey, r.AuthorizationType]));
    expect(byKey).toEqual({
      'POST /v1/jobs': 'CUSTOM',
      'GET /v1/jobs/{jobId}': 'CUSTOM',
      'DELETE /v1/jobs/{jobId}': 'CUSTOM',
      'GET /v1/models': 'CUSTOM',
      'POST /v1/batches': 'CUSTOM',
      'GET /v1/batches/{batchId}': 'CUSTOM',
      'GET /v1/health': 'NONE',
    });
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

  it('answers CORS preflights for the configured origins', () => {
    const cors = {
      AllowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      AllowHeaders: ['content-type', 'x-api-key', 'idempotency-key'],
      ExposeHeaders: ['retry-after', 'location', 'idempotent-replayed'],
    };
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

  it('sends ObjectCreated under uploads/ to the jobs queue, which lets only this bucket send', () => {
    const [queueId] = only(dev, 'AWS::SQS::Queue', { RedrivePolicy: Match.anyValue() });
    dev.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            QueueArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
          },
        ],
      },
    });
    dev.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: Match.arrayWith(['sqs:SendMessage']),
            Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('^StorageBucket'), 'Arn'] } } },
          }),
        ]),
      },
    });
  });

  it('is emptied and deleted with a dev stack, and kept with a prod stack', () => {
    dev.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    dev.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    prod.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    prod.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('queues', () => {
  it('encrypts both queues and refuses non-TLS access', () => {
    dev.resourceCountIs('AWS::SQS::Queue', 2);
    dev.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    const policies = Object.values(dev.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('sets the visibility timeout to 6 × the worker timeout plus the batching window', () => {
    dev.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * 120 + 1, RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
    prod.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * 60 + 2 });
  });

  it('keeps dead letters 14 days', () => {
    const [dlqId] = only(dev, 'AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 });
    dev.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  it('feeds the worker in batches with partial failures and a concurrency cap', () => {
    const [queueId] = only(dev, 'AWS::SQS::Queue', { RedrivePolicy: Match.anyValue() });
    dev.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // the worker's, and the DLQ consumer's
    dev.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: functionId(dev, 'worker') },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    prod.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 4,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 7 },
    });
  });
});

describe('table', () => {
  it('is on demand with TTL, point-in-time recovery and the owner index', () => {
    dev.resourceCountIs('AWS::DynamoDB::Table', 1);
    dev.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE_SCHEMA.ownerIndex.name,
          KeySchema: [
            { AttributeName: TABLE_SCHEMA.ownerIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_SCHEMA.ownerIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
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
    for (const service of ['api', 'authorizer']) {
      expect(actionsOf(statementsOf(prod, functionId(prod, service))).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
    }
  });
});

describe('alarms and budget', () => {
  it('alarms to one SNS topic on dead-lettered jobs, an undrained DLQ, queue age, worker errors and throttles, and API 5xx', () => {
    dev.resourceCountIs('AWS::SNS::Topic', 1);
    dev.resourceCountIs('AWS::CloudWatch::Alarm', 6);
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
    dev.resourceCountIs('AWS::SNS::Subscription', 0);
    prod.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
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
