import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { documentClient, isConditionFailure } from '../aws.ts';
import { getConfig } from '../config.ts';
import { jobKey, jobFromItem } from './items.ts';
import { type Job, type JobError, JOB_STATUSES, type JobStatus } from './model.ts';

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
 */

export const LIFECYCLE = {
  uploadLanded: { from: ['awaiting_upload'], to: 'queued' },
  claim: { from: ['awaiting_upload', 'queued', 'running'], to: 'running', guard: 'a running job only once its lease has lapsed' },
  complete: { from: ['running'], to: 'succeeded', guard: 'only the worker holding the claim' },
  fail: { from: ['running'], to: 'failed', guard: 'only the worker holding the claim' },
  release: { from: ['running'], to: 'queued', guard: 'only the worker holding the claim' },
  cancel: { from: ['awaiting_upload', 'queued', 'running'], to: 'canceled' },
  expire: { from: ['awaiting_upload'], to: 'expired', guard: 'only after the upload URL and its grace have lapsed' },
  renewUpload: { from: ['awaiting_upload'], to: 'awaiting_upload' },
  deadLetter: { from: ['awaiting_upload', 'queued', 'running'], to: 'failed', guard: 'a running job only once its lease has lapsed' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus; guard?: string }>;

export type LifecycleEventType = keyof typeof LIFECYCLE;

/** A job still awaiting its upload this long after the URL expired is expired (an upload started just in time may still be landing). */
export const UPLOAD_EXPIRY_GRACE_SECONDS = 300;

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

const leaseLapsed = (now: number): WritePlan => ({
  condition: '#status <> :running OR attribute_not_exists(#leaseUntil) OR #leaseUntil < :now',
  values: { ':running': 'running', ':now': now },
});

function planOf(event: JobEvent, now: number): WritePlan {
  const stamp = new Date(now).toISOString();
  switch (event.type) {
    case 'uploadLanded':
      return {};
    case 'claim':
      return {
        ...leaseLapsed(now),
        set: { claimId: event.claimId, leaseUntil: now + event.leaseMs, startedAt: stamp },
        add: { attempts: 1 },
        remove: ['lastError'],
      };
    case 'complete': {
      const holder = claimHolder(event.claimId);
      return { ...holder, set: { ...event.outcome, completedAt: stamp } };
    }
    case 'fail':
      return { ...claimHolder(event.claimId), set: { error: event.error, completedAt: stamp } };
    case 'release':
      return { ...claimHolder(event.claimId), set: { lastError: event.lastError } };
    case 'cancel':
      return {
        set: { completedAt: stamp, error: { code: 'canceled', message: 'canceled by its owner' } },
        remove: ['claimId', 'leaseUntil'],
      };
    case 'expire':
      return {
        condition: '#uploadExpiresAt < :expiredBefore',
        values: { ':expiredBefore': new Date(now - UPLOAD_EXPIRY_GRACE_SECONDS * 1000).toISOString() },
        set: { completedAt: stamp, error: { code: 'upload_expired', message: 'no upload arrived before the upload URL expired' } },
      };
    case 'renewUpload':
      return { set: { uploadExpiresAt: event.uploadExpiresAt } };
    case 'deadLetter':
      return { ...leaseLapsed(now), set: { error: event.error, completedAt: stamp }, remove: ['claimId', 'leaseUntil'] };
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
  try {
    const { Attributes } = await documentClient().send(new UpdateCommand(describeWrite(jobId, event, now, getConfig().TABLE_NAME)));
    return jobFromItem(Attributes);
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}
