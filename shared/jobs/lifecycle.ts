import { randomUUID } from 'node:crypto';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionFailure, updateIf } from '../aws.ts';
import { getConfig } from '../config.ts';
import type { LifecycleEvent, WebhookEventType } from '../webhooks/events.ts';
import { requestDelivery } from '../webhooks/queue.ts';
import { jobFromItem, jobKey } from './items.ts';
import { isTerminal, type Job, type JobError, JOB_STATUSES, type JobStatus } from './model.ts';

/**
 * The job lifecycle: every state change a job can make, named by the event that causes it, with
 * the states it may start from and any extra condition, in one table; and the one function,
 * `transition()`, that performs each as a single conditional DynamoDB write. Nothing else writes
 * a job's status, so duplicate S3 events, SQS redelivery, concurrent workers, a cancel racing a
 * completion and the sweep racing an upload all resolve to one outcome.
 *
 *   awaiting_upload ──uploadLanded──▶ queued ──claim──▶ running ──complete──▶ succeeded
 *     │  │  └──────────────claim (the worker got the event first)──▶ │ ──fail──────▶ failed
 *     │  └─renewUpload (an Idempotency-Key replay: new URL)          │ ──release──▶ queued (transient error)
 *     ├──expire──▶ expired (no upload before the URL lapsed)          └─claim (lease lapsed: its worker died)
 *     └──cancel──▶ canceled   (also from queued and running)
 *   awaiting_upload | queued | running ──deadLetter──▶ failed (its message ran out of deliveries)
 *
 * An event a client can be told of (`emits`) is appended to the job's `events` in the same write,
 * so it survives any crash after it; the webhooks module delivers it from there. The same write
 * keeps the job's timer (`deadlineAt`: when the sweep should look at it) in step with its state.
 */

export const LIFECYCLE = {
  uploadLanded: { from: ['awaiting_upload'], to: 'queued' },
  claim: { from: ['awaiting_upload', 'queued', 'running'], to: 'running', guard: 'a running job only once its lease has lapsed', emits: 'job.running' },
  complete: { from: ['running'], to: 'succeeded', guard: 'only the worker holding the claim', emits: 'job.succeeded' },
  fail: { from: ['running'], to: 'failed', guard: 'only the worker holding the claim', emits: 'job.failed' },
  release: { from: ['running'], to: 'queued', guard: 'only the worker holding the claim' },
  cancel: { from: ['awaiting_upload', 'queued', 'running'], to: 'canceled', emits: 'job.canceled' },
  expire: { from: ['awaiting_upload'], to: 'expired', guard: 'only after the upload URL and its grace have lapsed', emits: 'job.expired' },
  renewUpload: { from: ['awaiting_upload'], to: 'awaiting_upload' },
  deadLetter: { from: ['awaiting_upload', 'queued', 'running'], to: 'failed', guard: 'a running job only once its lease has lapsed', emits: 'job.failed' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus; guard?: string; emits?: WebhookEventType }>;

export type LifecycleEventType = keyof typeof LIFECYCLE;

/** The index partition every unfinished job's timer is in (TABLE_SCHEMA.deadlineIndex). */
export const DEADLINE_SHARD = 'jobs';
/** A queued job not claimed within this long is notified to the worker again by the sweep (its message was lost). */
export const QUEUED_STALL_SECONDS = 15 * 60;

/** When a job awaiting its upload may be expired: the URL's expiry plus the grace (an upload started just in time may still be landing). */
export function uploadDeadline(uploadExpiresAt: string): number {
  return Date.parse(uploadExpiresAt) + getConfig().UPLOAD_EXPIRY_GRACE_SECONDS * 1000;
}

/** Every (from → to) pair the lifecycle allows, derived from the table: the state diagram. */
export function allowedTransitions(): Map<JobStatus, Set<JobStatus>> {
  const map = new Map<JobStatus, Set<JobStatus>>(JOB_STATUSES.map((s) => [s, new Set<JobStatus>()]));
  for (const { from, to } of Object.values(LIFECYCLE)) for (const source of from) map.get(source)!.add(to);
  return map;
}

/** The event that moves a job, with what each event needs to know. */
export type JobEvent =
  | { type: 'uploadLanded' }
  | { type: 'claim'; claimId: string; leaseMs: number }
  | { type: 'complete'; claimId: string; outcome: { result: unknown } | { resultKey: string } }
  | { type: 'fail'; claimId: string; error: JobError }
  | { type: 'release'; claimId: string; lastError: JobError }
  | { type: 'cancel' }
  | { type: 'expire' }
  | { type: 'renewUpload'; uploadExpiresAt: string }
  | { type: 'deadLetter'; error: JobError };

/** What an event writes beyond the status, and its extra condition, as parts of an update. */
interface WritePlan {
  set?: Record<string, unknown>;
  remove?: string[];
  add?: Record<string, number>;
  /** ANDed with the source-state condition; `#name` placeholders are declared automatically. */
  condition?: string;
  values?: Record<string, unknown>;
}

const claimHolder = (claimId: string): WritePlan => ({
  condition: '#claimId = :claimId',
  values: { ':claimId': claimId },
  remove: ['claimId', 'leaseUntil'],
});

/** The job's timer moves with its state; a job that ends has none. */
const timerAt = (deadlineAt: number): WritePlan => ({ set: { deadlineAt } });
const noTimer: WritePlan = { remove: ['deadlineShard', 'deadlineAt'] };

/** Parts of a write, combined: sets and values merged, removals and conditions joined. */
function plan(...parts: WritePlan[]): WritePlan {
  const conditions = parts.map((p) => p.condition).filter(Boolean);
  return {
    set: Object.assign({}, ...parts.map((p) => p.set)),
    remove: parts.flatMap((p) => p.remove ?? []),
    add: Object.assign({}, ...parts.map((p) => p.add)),
    values: Object.assign({}, ...parts.map((p) => p.values)),
    // One condition as it is: DynamoDB refuses redundant parentheses, and the write wraps it once.
    ...(conditions.length ? { condition: conditions.length === 1 ? conditions[0] : conditions.map((c) => `(${c})`).join(' AND ') } : {}),
  };
}

const leaseLapsed = (now: number): WritePlan => ({
  condition: '#status <> :running OR attribute_not_exists(#leaseUntil) OR #leaseUntil < :now',
  values: { ':running': 'running', ':now': now },
});

function planOf(event: JobEvent, now: number): WritePlan {
  const stamp = new Date(now).toISOString();
  switch (event.type) {
    case 'uploadLanded':
      return timerAt(now + QUEUED_STALL_SECONDS * 1000);
    case 'claim':
      return plan(leaseLapsed(now), timerAt(now + event.leaseMs), {
        set: { claimId: event.claimId, leaseUntil: now + event.leaseMs, startedAt: stamp },
        add: { attempts: 1 },
        remove: ['lastError'],
      });
    case 'complete':
      return plan(claimHolder(event.claimId), noTimer, { set: { ...event.outcome, completedAt: stamp } });
    case 'fail':
      return plan(claimHolder(event.claimId), noTimer, { set: { error: event.error, completedAt: stamp } });
    case 'release':
      return plan(claimHolder(event.claimId), timerAt(now + QUEUED_STALL_SECONDS * 1000), { set: { lastError: event.lastError } });
    case 'cancel':
      return plan(noTimer, {
        set: { completedAt: stamp, error: { code: 'canceled', message: 'canceled by its owner' } },
        remove: ['claimId', 'leaseUntil'],
      });
    case 'expire':
      return plan(noTimer, {
        condition: '#deadlineAt <= :now',
        values: { ':now': now },
        set: { completedAt: stamp, error: { code: 'upload_expired', message: 'no upload arrived before the upload URL expired' } },
      });
    case 'renewUpload':
      return plan(timerAt(uploadDeadline(event.uploadExpiresAt)), { set: { uploadExpiresAt: event.uploadExpiresAt } });
    case 'deadLetter':
      return plan(leaseLapsed(now), noTimer, { set: { error: event.error, completedAt: stamp }, remove: ['claimId', 'leaseUntil'] });
  }
}

/** The conditional UpdateItem an event makes on a job: pure, so tests can check every write against the table. */
export function describeWrite(jobId: string, event: JobEvent, now: number, tableName: string): UpdateCommandInput {
  const rule = LIFECYCLE[event.type];
  const plan = planOf(event, now);
  const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':to': rule.to, ':updatedAt': new Date(now).toISOString() };
  const sets = ['#status = :to', '#updatedAt = :updatedAt'];
  for (const [field, value] of Object.entries(plan.set ?? {})) {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  const adds = Object.entries(plan.add ?? {}).map(([field, value]) => {
    names[`#${field}`] = field;
    values[`:add_${field}`] = value;
    return `#${field} :add_${field}`;
  });
  const emits = 'emits' in rule ? rule.emits : undefined;
  if (emits) {
    // The event joins the outbox in the same write as the state it tells of; webhookDueAt only
    // places the job in the delivery index when it has a webhook (the index's shard is set only then).
    const event: LifecycleEvent = { id: `evt_${randomUUID()}`, type: emits, at: new Date(now).toISOString() };
    Object.assign(names, { '#events': 'events', '#webhookDueAt': 'webhookDueAt' });
    Object.assign(values, { ':event': [event], ':noEvents': [], ':dueNow': now });
    sets.push('#events = list_append(if_not_exists(#events, :noEvents), :event)', '#webhookDueAt = :dueNow');
  }
  for (const field of plan.remove ?? []) names[`#${field}`] = field;
  const sources = rule.from.map((status, i) => {
    values[`:from${i}`] = status;
    return `:from${i}`;
  });
  Object.assign(values, plan.values);
  for (const match of (plan.condition ?? '').matchAll(/#(\w+)/g)) names[`#${match[1]}`] = match[1]!;

  let update = `SET ${sets.join(', ')}`;
  if (adds.length) update += ` ADD ${adds.join(', ')}`;
  if (plan.remove?.length) update += ` REMOVE ${plan.remove.map((f) => `#${f}`).join(', ')}`;
  const fromCondition = `#status IN (${sources.join(', ')})`;
  return {
    TableName: tableName,
    Key: jobKey(jobId),
    UpdateExpression: update,
    ConditionExpression: `attribute_exists(pk) AND (${fromCondition})${plan.condition ? ` AND (${plan.condition})` : ''}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW',
  };
}

/**
 * Perform one lifecycle event as a conditional write. Returns the job as it now is, or undefined
 * when the job is not in a state the event may start from, its guard does not hold, or it does not exist.
 */
export async function transition(jobId: string, event: JobEvent, now = Date.now()): Promise<Job | undefined> {
  let job: Job | undefined;
  try {
    const { Attributes } = await documentClient().send(new UpdateCommand(describeWrite(jobId, event, now, getConfig().TABLE_NAME)));
    job = jobFromItem(Attributes);
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
  if (job && 'emits' in LIFECYCLE[event.type]) await announce(job);
  return job;
}

/** Nudge delivery of what a write just recorded (the record itself is already safe on the item). */
async function announce(job: Job): Promise<void> {
  if (job.webhook) await requestDelivery({ kind: 'job', id: job.jobId });
  if (job.notifyBatch && job.batchId && isTerminal(job.status)) await requestDelivery({ kind: 'batch', id: job.batchId });
}

/**
 * Move an unfinished job's timer on without changing its state: the sweep, after nudging a job
 * that overstayed (its notification re-sent), gives the nudge time to work before looking again.
 */
export async function postponeTimer(jobId: string, status: JobStatus, deadlineAt: number): Promise<void> {
  await updateIf({
    Key: jobKey(jobId),
    UpdateExpression: 'SET #deadlineAt = :deadlineAt',
    ConditionExpression: 'attribute_exists(#deadlineAt) AND #state = :state',
    ExpressionAttributeNames: { '#deadlineAt': 'deadlineAt', '#state': 'status' },
    ExpressionAttributeValues: { ':deadlineAt': deadlineAt, ':state': status },
  });
}
