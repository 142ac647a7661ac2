import * as path from 'node:path';
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcardResources } from './nag.ts';
import { jobKey } from '#shared/jobs/items.ts';

/** The project root: entries, package.json, package-lock.json and models/ are resolved from here. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Node.js 24: the newest Lambda Node runtime (cdk-nag AwsSolutions-L1 wants the latest). */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * esbuild emits ESM (`index.mjs`): the shared code uses `import.meta.url`, which a CommonJS bundle
 * would leave undefined. Bundled CommonJS dependencies still call `require`, so give them one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __pipelineCreateRequire } from 'node:module'; const require = __pipelineCreateRequire(import.meta.url);";

export type Architecture = 'arm64' | 'x86_64';

export interface PipelineFunctionProps {
  /** Entry file, relative to the project root, e.g. `functions/api/index.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly architecture: Architecture;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly environment: Record<string, string>;
  /** Extra bundling (native node modules, command hooks); merged over the shared defaults. */
  readonly bundling?: BundlingOptions;
}

/** How a function may use the table. */
export type TableAccess =
  /** GetItem: look up one item by key (the authorizer's API-key lookup). */
  | 'read'
  /** GetItem, UpdateItem: reading jobs and moving them through the lifecycle (the worker, the dead-letter consumer). */
  | 'update'
  /** GetItem, PutItem, UpdateItem: creating items (jobs, batches) as well (the API). */
  | 'readWrite';

const TABLE_ACTIONS: Record<TableAccess, string[]> = {
  read: ['dynamodb:GetItem'],
  update: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  readWrite: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
};

/** Every job item's partition key starts with this (`job#<jobId>`), from the one key function. */
const JOB_KEY_PREFIX = jobKey('').pk;

/**
 * What a function may do with the objects under one bucket prefix. `list` is the prefix-limited
 * ListBucket alone (whether a key exists, and its size), for a function that never reads the bytes;
 * `read` includes it.
 */
export type ObjectAccess = 'list' | 'read' | 'write' | 'delete';

const OBJECT_ACTIONS: Record<Exclude<ObjectAccess, 'list'>, string> = {
  read: 's3:GetObject',
  write: 's3:PutObject',
  delete: 's3:DeleteObject',
};

/**
 * A Lambda function of this pipeline: NodejsFunction with the defaults every function shares —
 * Node.js 24, arm64 unless told otherwise, X-Ray tracing, its own log group with a retention,
 * minified ESM with source maps (and NODE_OPTIONS=--enable-source-maps), the AWS SDK bundled
 * (pinned to the versions the code was tested with) — and a role that starts with nothing but
 * writing to that log group. Permissions are added through the grant helpers below.
 */
export class PipelineFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    // Our own role rather than the default one: AWSLambdaBasicExecutionRole lets a function write
    // to any log group; this one may write to its own group only.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents');

    super(scope, id, {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        bundleAwsSDK: true,
        ...props.bundling,
      },
    });

    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so CDK grants them on "*" (test/infra asserts no other action is granted on "*").',
    );
  }

  /**
   * Let this function use the table's items as `access` says (the base table only, no index);
   * `batchRead` adds BatchGetItem (the batch status route reads a batch's jobs in one call);
   * `deleteJobs` adds DeleteItem on job items only (`pk` starting `job#`): a batch whose creation
   * failed deletes the jobs it wrote (shared/jobs/batch-store.ts deleteJobs), and nothing else may go.
   */
  grantTable(table: ITable, access: TableAccess, options: { batchRead?: boolean; deleteJobs?: boolean } = {}): void {
    const actions = [...TABLE_ACTIONS[access], ...(options.batchRead ? ['dynamodb:BatchGetItem'] : [])];
    this.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [table.tableArn] }));
    if (options.deleteJobs) {
      this.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:DeleteItem'],
          resources: [table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${JOB_KEY_PREFIX}*`] } },
        }),
      );
    }
  }

  /** Let this function Query the named indexes of the table (listing, the sweep's due items). */
  grantIndexQuery(table: ITable, indexNames: readonly string[]): void {
    this.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: indexNames.map((name) => `${table.tableArn}/index/${name}`) }),
    );
  }

  /**
   * Let this function use the objects under `prefix` (e.g. `uploads/`). Reading also grants
   * s3:ListBucket limited to that prefix: the sweep asks whether an upload landed by listing its
   * exact key (shared/storage/objects.ts findUpload), which this condition allows; HeadObject of a
   * missing key would answer 403 without a ListBucket on the whole bucket, so the code never uses it.
   */
  grantObjects(bucket: IBucket, prefix: string, access: readonly ObjectAccess[]): void {
    const objects = bucket.arnForObjects(`${prefix}*`);
    const objectActions = access.flatMap((a) => (a === 'list' ? [] : [OBJECT_ACTIONS[a]]));
    if (objectActions.length > 0) {
      this.addToRolePolicy(new iam.PolicyStatement({ actions: objectActions, resources: [objects] }));
      acknowledgeWildcardResources(
        this.role!,
        [objects],
        `Object access is limited to the ${prefix} prefix of the pipeline bucket; keys under it are per-job ids, so the grant has to cover the prefix.`,
      );
    }
    if (access.includes('read') || access.includes('list')) {
      this.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
        }),
      );
    }
  }
}
