import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { z } from 'zod';
import { LIMITS } from '#shared/config.ts';
import { QUEUE_SETTINGS } from '#shared/jobs/table.ts';
import { issuesLine } from '../shared/validation.ts';

/**
 * Deployment settings, read once from CDK context (`cdk.json` "context" or `-c key=value`) and
 * checked here, so a bad value fails synth naming the key. Values given with `-c` arrive as
 * strings, values in cdk.json as JSON: both are accepted. Stage-dependent defaults live in
 * STAGE_DEFAULTS; docs/deploy.md lists every key.
 */

export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];
export const AUTH_MODES = ['apiKey', 'jwt', 'both'] as const;

/** CloudWatch Logs accepts only these retention periods, days (9999: never expire). */
const LOG_RETENTION_DAYS = Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === 'number');

/** Lambda's hard ceiling on a function's timeout, seconds. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** SQS's ceiling on a queue's visibility timeout, seconds (12 hours). */
export const SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 3600;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();
const email = z.string().trim().email();

/** A list given as a JSON array, a JSON-array string (`-c 'k=["a","b"]'`) or comma-separated text. */
const stringList = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      return value;
    }
  }
  return text.split(',').map((item) => item.trim()).filter(Boolean);
}, z.array(z.string().min(1)).min(1));

interface StageDefaults {
  logRetentionDays: number;
  apiThrottleRateLimit: number;
  apiThrottleBurstLimit: number;
  workerMaxConcurrency: number;
}

const STAGE_DEFAULTS: Record<Stage, StageDefaults> = {
  dev: { logRetentionDays: 7, apiThrottleRateLimit: 20, apiThrottleBurstLimit: 40, workerMaxConcurrency: 5 },
  prod: { logRetentionDays: 90, apiThrottleRateLimit: 200, apiThrottleBurstLimit: 400, workerMaxConcurrency: 50 },
};

function settingsShape(stage: Stage) {
  const defaults = STAGE_DEFAULTS[stage];
  return {
    stage: z.enum(STAGES),
    /** CloudFormation stack name. */
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/).default(`AsyncInference-${stage}`),
    /** Instruction set of every function. The worker's native modules are installed to match. */
    architecture: z.enum(['arm64', 'x86_64']).default('arm64'),
    /** Browser origins allowed by the HTTP API's and the bucket's CORS (default `*`; with domainName, that domain's origin is added). */
    allowedOrigins: stringList.optional(),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    logRetentionDays: z.coerce
      .number()
      .refine((d): d is RetentionDays => (LOG_RETENTION_DAYS as number[]).includes(d), {
        message: `one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(defaults.logRetentionDays),

    /** Default-route throttling of the HTTP API (steady requests per second, and burst). */
    apiThrottleRateLimit: int(1, 10_000).default(defaults.apiThrottleRateLimit),
    apiThrottleBurstLimit: int(1, 5_000).default(defaults.apiThrottleBurstLimit),
    apiMemoryMb: int(128, 10_240).default(512),
    apiTimeoutSeconds: int(1, 29).default(10),

    workerMemoryMb: int(128, 10_240).default(2048),
    /** Also the job lease (JOB_LEASE_SECONDS): a claim outlives the invocation holding it. */
    workerTimeoutSeconds: int(10, LAMBDA_MAX_TIMEOUT_SECONDS).default(120),
    workerBatchSize: int(1, 10_000).default(QUEUE_SETTINGS.batchSize),
    workerBatchingWindowSeconds: int(0, 300).default(1),
    /** Most concurrent worker invocations the queue's event source starts (SQS allows 2–1000). */
    workerMaxConcurrency: int(2, 1000).default(defaults.workerMaxConcurrency),
    /** Receives before a message moves to the DLQ; the worker's MAX_RECEIVE_COUNT is the same number. */
    maxReceiveCount: int(1, 1000).default(5),
    /** Alarm when the oldest message in the jobs queue is older than this, seconds. */
    queueAgeAlarmSeconds: int(60, 14 * 24 * 3600).default(600),

    maxUploadBytes: int(1, LIMITS.S3_SINGLE_PUT_MAX_BYTES).default(50 * 1024 * 1024),
    uploadUrlTtlSeconds: int(60, LIMITS.PRESIGN_MAX_SECONDS).default(15 * 60),
    resultUrlTtlSeconds: int(60, LIMITS.PRESIGN_MAX_SECONDS).default(15 * 60),
    maxInputPixels: int(1, 268_402_689).default(40_000_000),
    pollIntervalSeconds: int(1, 60).default(1),
    defaultModel: z.string().min(1).default('onnx/colors'),
    /** Job items are deleted by DynamoDB TTL this long after creation. */
    jobRetentionDays: int(1, 3650).default(30),
    /** Bucket lifecycle: uploads/ objects expire after this many days. */
    uploadExpirationDays: int(1, 3650).default(7),
    /** Bucket lifecycle: results/ objects expire after this many days (default: jobRetentionDays). */
    resultExpirationDays: int(1, 3650).optional(),

    /** Credentials the API accepts: API keys (default), JWTs (API Gateway's JWT authorizer), or either (the Lambda authorizer checks both). */
    auth: z.enum(AUTH_MODES).default('apiKey'),
    /** JWT issuer and audience; with auth=jwt|both and neither given, the stack creates a Cognito user pool and app client. */
    jwtIssuer: z.url().optional(),
    jwtAudience: optionalString,
    /** Custom domain of the API, e.g. api.example.com: with certificateArn, or hostedZoneId + hostedZoneName to create a DNS-validated certificate and an alias record. */
    domainName: z.string().trim().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'a DNS name').optional(),
    certificateArn: z.string().regex(/^arn:aws[\w-]*:acm:[\w-]+:\d{12}:certificate\/[\w-]+$/, 'an ACM certificate ARN').optional(),
    hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, 'a Route 53 hosted zone id').optional(),
    hostedZoneName: optionalString,

    /** Import an existing Secrets Manager secret by name instead of creating one. */
    geminiSecretName: optionalString,
    /** E-mail subscribed to the alarm topic. */
    alarmEmail: email.optional(),
    /** Monthly AWS Budgets cost budget in USD; needs budgetEmail. */
    budgetMonthlyUsd: z.coerce.number().positive().optional(),
    budgetEmail: email.optional(),
  };
}

function settingsSchema(stage: Stage) {
  return z
    .object(settingsShape(stage))
    .strict()
    .refine((s) => s.budgetMonthlyUsd === undefined || s.budgetEmail !== undefined, {
      message: 'budgetMonthlyUsd needs budgetEmail',
      path: ['budgetEmail'],
    })
    .refine((s) => (s.jwtIssuer === undefined) === (s.jwtAudience === undefined), {
      message: 'jwtIssuer and jwtAudience go together (or neither: a Cognito user pool is created)',
      path: ['jwtAudience'],
    })
    .refine((s) => (s.hostedZoneId === undefined) === (s.hostedZoneName === undefined), {
      message: 'hostedZoneId and hostedZoneName go together',
      path: ['hostedZoneName'],
    })
    .refine((s) => s.domainName === undefined || s.certificateArn !== undefined || s.hostedZoneId !== undefined, {
      message: 'domainName needs certificateArn, or hostedZoneId + hostedZoneName to create a certificate',
      path: ['domainName'],
    })
    .refine((s) => s.domainName !== undefined || (s.certificateArn === undefined && s.hostedZoneId === undefined), {
      message: 'certificateArn and hostedZoneId apply to a domainName',
      path: ['domainName'],
    })
    .transform((s) => ({
      ...s,
      allowedOrigins: withDomainOrigin(s.allowedOrigins ?? ['*'], s.domainName),
      resultExpirationDays: s.resultExpirationDays ?? s.jobRetentionDays,
      /** Prod keeps data (table, bucket, created secret, logs) when the stack is deleted. */
      retainData: s.stage === 'prod',
    }));
}

/** The page served on the custom domain uploads to the bucket from that origin, so CORS must allow it. */
function withDomainOrigin(origins: string[], domainName: string | undefined): string[] {
  if (!domainName || origins.includes('*')) return origins;
  const origin = `https://${domainName}`;
  return origins.includes(origin) ? origins : [...origins, origin];
}

export type PipelineSettings = Readonly<z.infer<ReturnType<typeof settingsSchema>>>;

/** Context keys this app reads (everything else in the context belongs to the CDK). */
export const SETTING_KEYS: readonly string[] = Object.keys(settingsShape('dev'));

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Parse settings from plain values (tests) — unknown keys are refused, so typos fail loudly. */
export function parseSettings(values: Record<string, unknown>): PipelineSettings {
  const stage = z.enum(STAGES).safeParse(values.stage ?? 'dev');
  if (!stage.success) throw new SettingsError(`context stage: expected one of ${STAGES.join('|')}`);
  const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  const result = settingsSchema(stage.data).safeParse({ ...defined, stage: stage.data });
  if (!result.success) {
    throw new SettingsError(`invalid settings: ${issuesLine(result.error, { max: Infinity, prefix: 'context ' })}`);
  }
  return Object.freeze(result.data);
}

/** Read this app's keys from a construct node's context. */
export function settingsFromContext(node: Node): PipelineSettings {
  const values: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) values[key] = node.tryGetContext(key);
  return parseSettings(values);
}

/**
 * Context keys that look like ours but aren't (a typo such as `maxReceiveCuont`). CDK's own keys
 * (feature flags, lookups, `aws:cdk:*`) all contain ':' or '/', so they are never reported.
 */
export function unknownContextKeys(node: Node): string[] {
  return Object.keys(node.getAllContext()).filter((key) => !/[:/@]/.test(key) && !SETTING_KEYS.includes(key));
}
