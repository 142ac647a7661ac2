import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionFailure, putIfAbsent } from '../aws.ts';
import { getConfig } from '../config.ts';
import { type Job, type JobError, type JobStatus, sourcesOf } from './model.ts';

/**
 * Job persistence: one DynamoDB item per job (`pk = job#<jobId>`), every change a single-item
 * conditional write whose condition is the state machine of model.ts. No transactions, so this
 * runs on DynamoDB and on dynalite alike.
 */

const jobKey = (jobId: string) => ({ pk: `job#${jobId}` });

type StoredJob = Job & { pk: string };

function fromItem(item: Record<string, unknown> | undefined): Job | undefined {
  if (!item) return undefined;
  const { pk: _pk, ...job } = item as unknown as StoredJob;
  return job;
}

function table(): string {
  return getConfig().TABLE_NAME;
}

/** A condition `#status IN (:s0, :s1, …)` over the given statuses, with its values. */
function statusIn(statuses: readonly JobStatus[]) {
  const values: Record<string, JobStatus> = {};
  statuses.forEach((status, i) => (values[`:from${i}`] = status));
  return { expression: `#status IN (${Object.keys(values).join(', ')})`, values };
}

export async function getJob(jobId: string): Promise<Job | undefined> {
  const { Item } = await documentClient().send(
    new GetCommand({ TableName: table(), Key: jobKey(jobId), ConsistentRead: true }),
  );
  return fromItem(Item);
}

/**
 * Store a new job. If a job with this id already exists (an Idempotency-Key replay derives the
 * same id) nothing is written and the existing job is returned with `created: false`.
 */
export async function createJob(job: Job): Promise<{ created: boolean; job: Job }> {
  if (await putIfAbsent({ ...jobKey(job.jobId), ...job })) return { created: true, job };
  const existing = await getJob(job.jobId);
  if (!existing) throw new Error(`job ${job.jobId} exists but could not be read`);
  return { created: false, job: existing };
}

interface Transition {
  jobId: string;
  to: JobStatus;
  /** Extra condition (ANDed with the allowed source statuses), e.g. the caller's claim. */
  condition?: string;
  set?: Record<string, unknown>;
  remove?: string[];
  /** Add to numeric attributes. */
  add?: Record<string, number>;
  /** Overrides the source statuses derived from the state machine. */
  from?: readonly JobStatus[];
  values?: Record<string, unknown>;
  now?: number;
}

/**
 * Apply one state transition as a conditional update. Returns the updated job, or undefined when
 * the job is not in a state the transition may start from (or does not exist).
 */
async function transition(t: Transition): Promise<Job | undefined> {
  const now = t.now ?? Date.now();
  const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':to': t.to, ':updatedAt': new Date(now).toISOString() };
  const sets = ['#status = :to', '#updatedAt = :updatedAt'];
  for (const [field, value] of Object.entries(t.set ?? {})) {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  const adds: string[] = [];
  for (const [field, value] of Object.entries(t.add ?? {})) {
    names[`#${field}`] = field;
    values[`:add_${field}`] = value;
    adds.push(`#${field} :add_${field}`);
  }
  for (const field of t.remove ?? []) names[`#${field}`] = field;
  const from = statusIn(t.from ?? sourcesOf(t.to));
  Object.assign(values, from.values, t.values);
  let update = `SET ${sets.join(', ')}`;
  if (adds.length) update += ` ADD ${adds.join(', ')}`;
  if (t.remove?.length) update += ` REMOVE ${t.remove.map((f) => `#${f}`).join(', ')}`;
  const condition = t.condition ? `(${from.expression}) AND (${t.condition})` : from.expression;
  // Names used only in the extra condition must be declared too.
  for (const match of (t.condition ?? '').matchAll(/#(\w+)/g)) names[`#${match[1]}`] = match[1]!;

  try {
    const { Attributes } = await documentClient().send(
      new UpdateCommand({
        TableName: table(),
        Key: jobKey(t.jobId),
        UpdateExpression: update,
        ConditionExpression: `attribute_exists(pk) AND ${condition}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem(Attributes);
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/** The client's upload has landed: awaiting_upload → queued. */
export function markQueued(jobId: string, now?: number): Promise<Job | undefined> {
  return transition({ jobId, to: 'queued', from: ['awaiting_upload'], now });
}

/** No upload arrived before the URL expired: awaiting_upload → expired. */
export function markExpired(jobId: string, now = Date.now()): Promise<Job | undefined> {
  return transition({
    jobId,
    to: 'expired',
    from: ['awaiting_upload'],
    set: {
      completedAt: new Date(now).toISOString(),
      error: { code: 'upload_expired', message: 'no upload arrived before the upload URL expired' },
    },
    now,
  });
}

export type ClaimResult = { claimed: true; job: Job } | { claimed: false; job: Job | undefined };

/**
 * Take a job for processing. Succeeds from awaiting_upload or queued, or from running when the
 * previous worker's lease has lapsed (it crashed or timed out). A duplicate event for a job that
 * is running under a live lease, or already finished, gets `claimed: false`.
 */
export async function claimJob(
  jobId: string,
  claimId: string,
  leaseMs: number,
  now = Date.now(),
): Promise<ClaimResult> {
  const job = await transition({
    jobId,
    to: 'running',
    from: ['awaiting_upload', 'queued', 'running'],
    condition: '#status <> :running OR #leaseUntil < :now',
    values: { ':running': 'running', ':now': now },
    set: { claimId, leaseUntil: now + leaseMs, startedAt: new Date(now).toISOString() },
    add: { attempts: 1 },
    remove: ['lastError'],
    now,
  });
  if (job) return { claimed: true, job };
  return { claimed: false, job: await getJob(jobId) };
}

/** The parts of a transition only the worker holding the claim may make: from running, dropping the claim. */
function byClaimHolder(claimId: string) {
  return {
    from: ['running'] as const,
    condition: '#claimId = :claimId',
    values: { ':claimId': claimId },
    remove: ['claimId', 'leaseUntil'],
  };
}

/** Record the result: running → succeeded, only for the worker holding the claim. */
export function completeJob(
  jobId: string,
  claimId: string,
  outcome: { result: unknown } | { resultKey: string },
  now = Date.now(),
): Promise<Job | undefined> {
  return transition({
    jobId,
    to: 'succeeded',
    ...byClaimHolder(claimId),
    set: { ...outcome, completedAt: new Date(now).toISOString() },
    now,
  });
}

/** End the job as failed: running → failed, only for the worker holding the claim. */
export function failJob(jobId: string, error: JobError, claimId: string, now = Date.now()): Promise<Job | undefined> {
  return transition({
    jobId,
    to: 'failed',
    ...byClaimHolder(claimId),
    set: { error, completedAt: new Date(now).toISOString() },
    now,
  });
}

/** Give a claimed job back after a transient error, so the SQS redelivery can claim it at once. */
export function releaseJob(jobId: string, claimId: string, lastError: JobError, now = Date.now()): Promise<Job | undefined> {
  return transition({
    jobId,
    to: 'queued',
    ...byClaimHolder(claimId),
    set: { lastError },
    now,
  });
}

/** Cancel a job that has not finished. A running worker's completion then fails its condition. */
export function cancelJob(jobId: string, now = Date.now()): Promise<Job | undefined> {
  return transition({
    jobId,
    to: 'canceled',
    set: { completedAt: new Date(now).toISOString(), error: { code: 'canceled', message: 'canceled by its owner' } },
    remove: ['claimId', 'leaseUntil'],
    now,
  });
}

/** An Idempotency-Key replay handed out a fresh upload URL: the job waits for it until its new expiry. */
export function renewUpload(jobId: string, uploadExpiresAt: string, now?: number): Promise<Job | undefined> {
  return transition({ jobId, to: 'awaiting_upload', from: ['awaiting_upload'], set: { uploadExpiresAt }, now });
}

/**
 * Fail a job whose message reached the dead-letter queue without a final decision (its worker
 * crashed or timed out on the last delivery, or deliveries were used up while it ran). A job
 * running under a live lease is left alone: its worker still decides. Returns the failed job, or
 * undefined when there was nothing to fail.
 */
export function abandonJob(jobId: string, error: JobError, now = Date.now()): Promise<Job | undefined> {
  return transition({
    jobId,
    to: 'failed',
    condition: '#status <> :running OR attribute_not_exists(#leaseUntil) OR #leaseUntil < :now',
    values: { ':running': 'running', ':now': now },
    set: { error, completedAt: new Date(now).toISOString() },
    remove: ['claimId', 'leaseUntil'],
    now,
  });
}
