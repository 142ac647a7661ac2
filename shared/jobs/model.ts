import type { FailureCode } from '../errors.ts';

/**
 * The job and its state machine, in one place.
 *
 *   awaiting_upload ──upload seen──▶ queued ──claim──▶ running ──▶ succeeded | failed
 *        │  └──────────────claim (event before any poll)──▶ │  ▲
 *        │                                                  └──┘ release (transient error, retried via SQS)
 *        ├──▶ expired   (no upload before the URL expired)
 *        └──▶ canceled  (from any non-terminal state)
 *   any non-terminal ──▶ failed when its message was dead-lettered (shared/worker/dead-letters.ts)
 *
 * Every transition is a conditional write on `status` (store.ts), so duplicate S3 events, SQS
 * redelivery and concurrent workers produce one result.
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

/** Which status may follow which. `running → running` is a new claim after the lease lapsed. */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  awaiting_upload: ['queued', 'running', 'canceled', 'expired', 'failed'],
  queued: ['running', 'failed', 'canceled'],
  running: ['running', 'queued', 'succeeded', 'failed', 'canceled'],
  succeeded: [],
  failed: [],
  canceled: [],
  expired: [],
};

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses a transition to `to` may start from: the condition of its conditional write. */
export function sourcesOf(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canTransition(from, to));
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
  /** DynamoDB TTL, epoch seconds. */
  expiresAt: number;
}
