import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { issuesLine } from './validation.ts';

/**
 * The one configuration reader. Every setting comes from the environment, is checked once at
 * init, and a bad value fails fast naming the variable. Handlers and scripts call getConfig();
 * tests call parseConfig() with their own environment.
 */

/** Hard limits, documented once (README "Limits") and tested once (test/unit/limits.test.ts). */
export const LIMITS = {
  /** DynamoDB caps an item at 400 KB; results above this go to S3 results/<jobId>.json. */
  RESULT_INLINE_MAX_BYTES: 300 * 1024,
  /** S3 caps a single presigned PUT at 5 GB; we cap far lower (MAX_UPLOAD_BYTES) and never above this. */
  S3_SINGLE_PUT_MAX_BYTES: 5 * 1024 ** 3,
  /** SigV4 presigned URLs are valid for at most 7 days. */
  PRESIGN_MAX_SECONDS: 7 * 24 * 3600,
  /** Caller-supplied metadata is stored on the job item: keep it small. */
  METADATA_MAX_BYTES: 2048,
  /** Idempotency keys are stored hashed, but the header itself is bounded. */
  IDEMPOTENCY_KEY_MAX_LENGTH: 255,
  /** Items (jobs) one POST /v1/batches may create: its reply (100 presigned URLs) stays small, its writes few. */
  BATCH_MAX_ITEMS: 100,
} as const;

const defaultModelsDir = fileURLToPath(new URL('../models/', import.meta.url));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

const EnvSchema = z.object({
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** DynamoDB table holding jobs and API keys. */
  TABLE_NAME: z.string().min(1),
  /** Bucket receiving uploads (uploads/<jobId>) and large results (results/<jobId>.json). */
  BUCKET_NAME: z.string().min(1),
  /** Path-style S3 URLs: needed for S3-compatible servers on loopback, never on AWS. */
  S3_FORCE_PATH_STYLE: bool.default(false),
  /** Largest accepted upload, bytes. */
  MAX_UPLOAD_BYTES: int(1, LIMITS.S3_SINGLE_PUT_MAX_BYTES).default(50 * 1024 * 1024),
  /** How long a presigned upload URL stays valid, seconds. */
  UPLOAD_URL_TTL_SECONDS: int(1, LIMITS.PRESIGN_MAX_SECONDS).default(15 * 60),
  /** A job still awaiting its upload this long after its URL expired is expired by the sweep (an upload started just in time may still be landing). */
  UPLOAD_EXPIRY_GRACE_SECONDS: int(0, 86_400).default(300),
  /** How long a presigned result URL stays valid, seconds. */
  RESULT_URL_TTL_SECONDS: int(60, LIMITS.PRESIGN_MAX_SECONDS).default(15 * 60),
  /** Decoded pixels above this fail the job image_too_large (decompression-bomb guard). */
  MAX_INPUT_PIXELS: int(1, 268_402_689).default(40_000_000),
  /** Jobs (and their items) are deleted by DynamoDB TTL this many days after creation. */
  JOB_RETENTION_DAYS: int(1, 3650).default(30),
  /** Must equal the jobs queue's redrive maxReceiveCount: on that receive a transient failure is final. */
  MAX_RECEIVE_COUNT: int(1, 1000).default(5),
  /** Worker lease on a claimed job, seconds: at least the worker function's timeout. */
  JOB_LEASE_SECONDS: int(1, 900).default(120),
  /** Suggested poll interval while a job is not terminal (Retry-After), seconds. */
  POLL_INTERVAL_SECONDS: int(1, 60).default(1),
  /** Folder of bundled ONNX models and manifests. */
  MODELS_DIR: z.string().min(1).default(defaultModelsDir),
  /** Optional: also serve models (manifest + .onnx) stored in the bucket under this prefix, e.g. `models/`. */
  MODELS_S3_PREFIX: z.string().regex(/^[\w.-]+(\/[\w.-]+)*\/$/, 'a key prefix ending in /').optional(),
  /** Where models fetched from the bucket are kept between invocations (Lambda: /tmp, up to its ephemeral storage). */
  MODELS_CACHE_DIR: z.string().min(1).default(join(tmpdir(), 'models')),
  /** The webhook delivery queue (its consumer is functions/webhooks); unset: deliveries wait for the sweep. */
  WEBHOOK_QUEUE_URL: z.url().optional(),
  /** The jobs queue: the sweep sends a job's upload notification again when its own was lost. */
  JOBS_QUEUE_URL: z.url().optional(),
  /** Let webhooks call http:// and private, loopback or link-local addresses: for the local cloud only, never on AWS. */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: bool.default(false),
  /** One webhook call is abandoned (and retried later) after this long, ms. */
  WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(15_000),
  /** Model served when POST /v1/jobs names none. */
  DEFAULT_MODEL: z.string().min(1).default('onnx/colors'),
  /** Threads onnxruntime may use per session (0 = its default, one per core). */
  ONNX_INTRA_OP_THREADS: int(0, 64).default(0),
  /**
   * Where ONNX inference (decode, preprocess, session.run, postprocess) runs: `on` in a pool of
   * worker threads, so it leaves the process's JS thread free for I/O (S3, DynamoDB, and locally
   * the API and emulators); `off` on that JS thread; `auto` in the pool for models heavy enough
   * to pay for the hand-over, measured by `npm run bench -- pool` (shared/inference/pool/choice.ts).
   */
  INFERENCE_POOL: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Pool threads (0 = one per core, os.availableParallelism()). */
  INFERENCE_POOL_THREADS: int(0, 64).default(0),
  /** Gemini API key (local use). Gemini presets are available iff this or GEMINI_API_KEY_SECRET_ARN is set. Never logged. */
  GEMINI_API_KEY: z.string().trim().min(1).optional(),
  /** On AWS: the Secrets Manager secret holding the Gemini API key, read by the worker once per cold start. */
  GEMINI_API_KEY_SECRET_ARN: z.string().trim().min(1).optional(),
  /** Overrides the Gemini endpoint (the SDK's httpOptions.baseUrl): tests' fake server, a gateway. */
  GEMINI_BASE_URL: z.url().optional(),
  /** Gemini model ids behind params.speed = fast | balanced | accurate. */
  GEMINI_MODEL_FAST: z.string().min(1).default('gemini-2.5-flash-lite'),
  GEMINI_MODEL_BALANCED: z.string().min(1).default('gemini-2.5-flash'),
  GEMINI_MODEL_ACCURATE: z.string().min(1).default('gemini-2.5-pro'),
  /** Images are downscaled to this long side (px) and re-encoded before they are sent inline. */
  GEMINI_MAX_IMAGE_SIDE: int(256, 8192).default(3072),
  /** One generateContent call is abandoned (and retried) after this long, ms; never past the invocation's deadline. */
  GEMINI_CALL_TIMEOUT_MS: int(100, 300_000).default(120_000),
  /** Calls per delivery for 429 / 5xx / timeouts, the first included; then the message goes back to SQS. */
  GEMINI_MAX_ATTEMPTS: int(1, 20).default(4),
  /** Retry backoff: doubles from the base per attempt, with jitter, up to the max; a longer server-sent delay wins. */
  GEMINI_RETRY_BASE_MS: int(1, 60_000).default(1_000),
  GEMINI_RETRY_MAX_MS: int(1, 300_000).default(30_000),
  /** Default plan of a key created without one (`npm run keys -- create --rate --burst --quota`), and of JWT callers: steady requests per second. */
  PLAN_RATE_PER_SECOND: z.coerce.number().positive().max(100_000).default(500),
  /** Default plan: requests allowed at once above the steady rate (token-bucket size). */
  PLAN_BURST: int(1, 100_000).default(1000),
  /** Default plan: requests (a batch counts its items) per PLAN_QUOTA_PERIOD. */
  PLAN_QUOTA: int(1, 1_000_000_000).default(1_000_000),
  PLAN_QUOTA_PERIOD: z.enum(['day', 'month']).default('day'),
  /** Which credentials the Lambda authorizer accepts: API keys, JWTs (Bearer) or both (infra context `auth`). */
  AUTH_MODE: z.enum(['apiKey', 'jwt', 'both']).default('apiKey'),
  /** JWT issuer (`iss`), e.g. a Cognito user pool's https://cognito-idp.<region>.amazonaws.com/<poolId>. */
  JWT_ISSUER: z.url().optional(),
  /** JWT audience (`aud`, or Cognito access tokens' `client_id`). */
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** The issuer's key set; default <JWT_ISSUER>/.well-known/jwks.json, Cognito's location. */
  JWT_JWKS_URL: z.url().optional(),
  /** In-flight Gemini calls per worker process (on AWS the queue's maximum concurrency caps the total). */
  GEMINI_MAX_CONCURRENCY: int(1, 256).default(4),
});

export type Config = Readonly<z.infer<typeof EnvSchema>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parse and check an environment; throws ConfigError naming each bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty variable (`FOO=`) means unset, as shells and .env files use it, not zero.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = EnvSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(`invalid configuration: ${issuesLine(result.error, { max: Infinity, root: '(env)' })}`);
  }
  return Object.freeze(result.data);
}

let cached: Config | undefined;

/** The process's configuration, parsed on first use and then fixed. */
export function getConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}

/** For the local cloud and tests, which set the environment and then (re)load. */
export function resetConfig(): void {
  cached = undefined;
}
