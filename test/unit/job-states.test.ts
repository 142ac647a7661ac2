import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allowedTransitions, describeWrite, type JobEvent, LIFECYCLE, type LifecycleEventType } from '#shared/jobs/lifecycle.ts';
import { isTerminal, JOB_STATUSES, type JobStatus, TERMINAL_STATUSES } from '#shared/jobs/model.ts';

/** The state machine as DESIGN.md draws it, written out by hand (not derived from the code). */
const TERMINAL: JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];
const NON_TERMINAL: JobStatus[] = ['awaiting_upload', 'queued', 'running'];
const EXPECTED: Record<JobStatus, JobStatus[]> = {
  awaiting_upload: ['awaiting_upload', 'queued', 'running', 'canceled', 'expired', 'failed'],
  queued: ['running', 'failed', 'canceled'],
  running: ['running', 'queued', 'succeeded', 'failed', 'canceled'],
  succeeded: [],
  failed: [],
  canceled: [],
  expired: [],
};

/** One example of every event, with what each needs. */
const EXAMPLES: { [T in LifecycleEventType]: Extract<JobEvent, { type: T }> } = {
  uploadLanded: { type: 'uploadLanded' },
  claim: { type: 'claim', claimId: 'm#1', leaseMs: 1000 },
  complete: { type: 'complete', claimId: 'm#1', outcome: { result: { ok: true } } },
  fail: { type: 'fail', claimId: 'm#1', error: { code: 'corrupt_image', message: 'x' } },
  release: { type: 'release', claimId: 'm#1', lastError: { code: 'internal', message: 'x' } },
  cancel: { type: 'cancel' },
  expire: { type: 'expire' },
  renewUpload: { type: 'renewUpload', uploadExpiresAt: '2030-01-01T00:00:00.000Z' },
  deadLetter: { type: 'deadLetter', error: { code: 'internal', message: 'x' } },
};

const NOW = Date.parse('2026-01-01T00:00:00Z');
// renewUpload's timer reads the configured expiry grace.
Object.assign(process.env, { TABLE_NAME: 'unused', BUCKET_NAME: 'unused' });
const allowed = allowedTransitions();
const pairs = (map: Map<JobStatus, Set<JobStatus>>) => [...map].flatMap(([from, tos]) => [...tos].map((to) => `${from}→${to}`)).sort();

describe('job lifecycle', () => {
  it('knows exactly the seven statuses of the design, four of them terminal', () => {
    expect([...JOB_STATUSES].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const status of TERMINAL) expect(isTerminal(status), status).toBe(true);
    for (const status of NON_TERMINAL) expect(isTerminal(status), status).toBe(false);
    expect([...TERMINAL_STATUSES].sort()).toEqual([...TERMINAL].sort());
  });

  it('allows exactly the transitions of the design, derived from its named events', () => {
    const expected = new Map(Object.entries(EXPECTED).map(([from, tos]) => [from as JobStatus, new Set(tos)]));
    expect(pairs(allowed)).toEqual(pairs(expected));
  });

  it('gives every terminal state no way out, not even to itself', () => {
    for (const from of TERMINAL) expect([...allowed.get(from)!], from).toEqual([]);
  });

  it('names the nine events of the design', () => {
    expect(Object.keys(LIFECYCLE).sort()).toEqual(
      ['uploadLanded', 'claim', 'complete', 'fail', 'release', 'cancel', 'expire', 'renewUpload', 'deadLetter'].sort(),
    );
  });

  describe.each(Object.keys(LIFECYCLE) as LifecycleEventType[])('the write of %s', (type) => {
    const write = describeWrite('job-1', EXAMPLES[type], NOW, 'table');
    const values = write.ExpressionAttributeValues!;

    it('is conditional on exactly the source states of its row in the table, and on the job existing', () => {
      const condition = write.ConditionExpression!;
      expect(condition.startsWith('attribute_exists(pk) AND (#status IN (')).toBe(true);
      const sources = /#status IN \(([^)]*)\)/.exec(condition)![1]!.split(', ').map((name) => values[name]);
      expect(sources.sort()).toEqual([...LIFECYCLE[type].from].sort());
    });

    it('sets the status its row names, and the time of the change', () => {
      expect(write.UpdateExpression).toMatch(/^SET #status = :to, #updatedAt = :updatedAt/);
      expect(values[':to']).toBe(LIFECYCLE[type].to);
      expect(values[':updatedAt']).toBe(new Date(NOW).toISOString());
    });

    it('has no doubled parentheses, which DynamoDB refuses as redundant', () => {
      expect(write.ConditionExpression).not.toMatch(/\(\s*\(/);
    });

    it('declares every name and value its expressions use', () => {
      const text = `${write.UpdateExpression} ${write.ConditionExpression}`;
      for (const name of text.match(/#\w+/g) ?? []) expect(write.ExpressionAttributeNames, name).toHaveProperty(name);
      for (const value of text.match(/:\w+/g) ?? []) expect(values, value).toHaveProperty(value);
    });
  });

  it('lets only the claim holder complete, fail or release a job', () => {
    for (const type of ['complete', 'fail', 'release'] as const) {
      const write = describeWrite('job-1', EXAMPLES[type], NOW, 'table');
      expect(write.ConditionExpression, type).toContain('#claimId = :claimId');
      expect(write.ExpressionAttributeValues![':claimId']).toBe('m#1');
    }
  });

  it('re-claims, or dead-letters, a running job only once its lease has lapsed', () => {
    for (const type of ['claim', 'deadLetter'] as const) {
      expect(describeWrite('job-1', EXAMPLES[type], NOW, 'table').ConditionExpression, type).toContain('#leaseUntil < :now');
    }
  });

  it('expires a job only once its timer (upload URL expiry + grace) has run out', () => {
    const write = describeWrite('job-1', EXAMPLES.expire, NOW, 'table');
    expect(write.ConditionExpression).toContain('#deadlineAt <= :now');
    expect(write.ExpressionAttributeValues![':now']).toBe(NOW);
  });

  it('records the events a client can be told of in the same write, and only those', () => {
    for (const type of Object.keys(LIFECYCLE) as LifecycleEventType[]) {
      const write = describeWrite('job-1', EXAMPLES[type], NOW, 'table');
      const rule = LIFECYCLE[type] as { emits?: string };
      if (rule.emits) {
        expect(write.UpdateExpression, type).toContain('#events = list_append(if_not_exists(#events, :noEvents), :event)');
        const [event] = write.ExpressionAttributeValues![':event'] as { id: string; type: string }[];
        expect(event!.type).toBe(rule.emits);
        expect(event!.id).toMatch(/^evt_/);
      } else {
        expect(write.UpdateExpression, type).not.toContain('#events');
      }
    }
  });

  it('stops the timer of a job that ends, and keeps one on a job that has not', () => {
    for (const type of Object.keys(LIFECYCLE) as LifecycleEventType[]) {
      const write = describeWrite('job-1', EXAMPLES[type], NOW, 'table');
      const ends = ['succeeded', 'failed', 'canceled', 'expired'].includes(LIFECYCLE[type].to);
      if (ends) expect(write.UpdateExpression, type).toMatch(/REMOVE .*#deadlineShard, #deadlineAt/);
      else expect(write.UpdateExpression, type).toContain('#deadlineAt = :deadlineAt');
    }
  });
});

describe('the one choke point', () => {
  const root = join(import.meta.dirname, '../..');
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return sources(path);
      return path.endsWith('.ts') ? [path] : [];
    });

  it('has no conditional write on a job status outside the lifecycle module', () => {
    const offenders = ['shared', 'functions', 'scripts']
      .flatMap((dir) => sources(join(root, dir)))
      .filter((file) => !file.endsWith(join('shared', 'jobs', 'lifecycle.ts')))
      .filter((file) => {
        const text = readFileSync(file, 'utf8');
        // An update that names the status attribute (reads that filter on it are fine).
        return /UpdateCommand/.test(text) && /['"]#status['"]\s*:|\bstatus\s*=\s*:/.test(text);
      })
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });
});
