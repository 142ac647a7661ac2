import type { FailureCode } from '../errors.ts';
import type { DeliveryState, LifecycleEvent, WebhookSubscription } from '../webhooks/events.ts';

/**
 * The job: its statuses and its stored shape. How a job moves between statuses is the lifecycle
 * module's (lifecycle.ts): one table of named events and the one function that performs them.
 */

export const JOB_STATUSES = [
  'awaiting_upload',
  'queued',
  'running',
  'succeeded',
  'failed',
  'canceled',
  'expired',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Why a job ended without a result: a failure code, or why it was expired or canceled. */
export interface JobError {
  code: FailureCode | 'upload_expired' | 'canceled';
  message: string;
}

export interface Job {
  jobId: string;
  ownerId: string;
  status: JobStatus;
  model: string;
  params?: Record<string, unknown>;
  metadata?: Record<string, string>;
  contentType: string;
  contentLength: number;
  createdAt: string;
  updatedAt: string;
  /** When the presigned upload URL stops working (ISO 8601). */
  uploadExpiresAt: string;
  startedAt?: string;
  completedAt?: string;
  /** How many times a worker has claimed the job. */
  attempts: number;
  /** The current worker's claim: completion is conditional on it, so a stale worker cannot write. */
  claimId?: string;
  /** Epoch ms after which another worker may claim a `running` job (its worker died). */
  leaseUntil?: number;
  /** Inline result (≤ LIMITS.RESULT_INLINE_MAX_BYTES serialized) … */
  result?: unknown;
  /** … or the S3 key of a larger one. */
  resultKey?: string;
  error?: JobError;
  /** The last transient error, kept while the job is retried. */
  lastError?: JobError;
  /** SHA-256 of the creating request, to tell a replay from a conflicting reuse of an Idempotency-Key. */
  requestHash?: string;
  /** The batch (POST /v1/batches) that created the job, if any. */
  batchId?: string;
  /** Where its webhook events go (from the request, its batch's, or the owner's default). */
  webhook?: WebhookSubscription;
  /** Its batch subscribed to batch.completed: each job's end makes the batch look at its jobs. */
  notifyBatch?: boolean;
  /** What happened to it that a webhook can tell, oldest first: the outbox deliveries read. */
  events?: LifecycleEvent[];
  /** How delivery of `events` to `webhook` stands. */
  delivery?: DeliveryState;
  /**
   * The lifecycle's timer (sparse index byDeadline): by this epoch ms the job should have left its
   * state (upload expiry + grace, a claim's lease, a queued job's claim); the sweep looks at jobs
   * past it. Removed when the job ends.
   */
  deadlineShard?: string;
  deadlineAt?: number;
  /** Sparse index byWebhookDue (only jobs with a webhook have the shard): when delivery should run next. */
  webhookShard?: string;
  webhookDueAt?: number;
  /** DynamoDB TTL, epoch seconds. */
  expiresAt: number;
}
