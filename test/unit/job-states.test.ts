import { describe, expect, it } from 'vitest';
import {
  canTransition,
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  sourcesOf,
  TERMINAL_STATUSES,
  TRANSITIONS,
} from '#shared/jobs/model.ts';

/** The state machine as DESIGN.md draws it, written out by hand (not derived from the code). */
const TERMINAL: JobStatus[] = ['succeeded', 'failed', 'canceled', 'expired'];
const NON_TERMINAL: JobStatus[] = ['awaiting_upload', 'queued', 'running'];

describe('job states', () => {
  it('knows exactly the seven statuses of the design', () => {
    expect([...JOB_STATUSES].sort()).toEqual(
      ['awaiting_upload', 'queued', 'running', 'succeeded', 'failed', 'canceled', 'expired'].sort(),
    );
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...JOB_STATUSES].sort());
  });

  it('calls succeeded, failed, canceled and expired terminal, and nothing else', () => {
    for (const status of TERMINAL) expect(isTerminal(status), status).toBe(true);
    for (const status of NON_TERMINAL) expect(isTerminal(status), status).toBe(false);
    expect([...TERMINAL_STATUSES].sort()).toEqual([...TERMINAL].sort());
  });

  it('gives every terminal state no way out, not even to itself', () => {
    for (const from of TERMINAL) {
      expect(TRANSITIONS[from], from).toEqual([]);
      for (const to of JOB_STATUSES) expect(canTransition(from, to), `${from} → ${to}`).toBe(false);
    }
  });

  it('lets an awaiting upload be queued, claimed, canceled, expired, or failed when its dead-lettered upload was never processed', () => {
    for (const to of ['queued', 'running', 'canceled', 'expired', 'failed'] as const) {
      expect(canTransition('awaiting_upload', to), to).toBe(true);
    }
  });

  it('never lets a job succeed before it was claimed', () => {
    expect(canTransition('awaiting_upload', 'succeeded')).toBe(false);
    expect(canTransition('queued', 'succeeded')).toBe(false);
    expect(canTransition('awaiting_upload', 'awaiting_upload')).toBe(false);
  });

  it('lets a queued job be claimed, failed or canceled, but never expired', () => {
    expect(canTransition('queued', 'running')).toBe(true);
    expect(canTransition('queued', 'failed')).toBe(true);
    expect(canTransition('queued', 'canceled')).toBe(true);
    expect(canTransition('queued', 'expired')).toBe(false);
    expect(canTransition('queued', 'awaiting_upload')).toBe(false);
  });

  it('lets a running job be re-claimed after its lease lapsed, and released back to the queue', () => {
    expect(canTransition('running', 'running')).toBe(true);
    expect(canTransition('running', 'queued')).toBe(true);
  });

  it('lets a running job finish as succeeded or failed, or be canceled, but not expire', () => {
    expect(canTransition('running', 'succeeded')).toBe(true);
    expect(canTransition('running', 'failed')).toBe(true);
    expect(canTransition('running', 'canceled')).toBe(true);
    expect(canTransition('running', 'expired')).toBe(false);
    expect(canTransition('running', 'awaiting_upload')).toBe(false);
  });

  it('lets every non-terminal state be canceled', () => {
    for (const from of NON_TERMINAL) expect(canTransition(from, 'canceled'), from).toBe(true);
  });

  it('never returns to awaiting_upload', () => {
    expect(sourcesOf('awaiting_upload')).toEqual([]);
  });

  it('claims (→ running) from awaiting_upload, queued, or a running job whose lease lapsed', () => {
    expect(sourcesOf('running').sort()).toEqual(['awaiting_upload', 'queued', 'running'].sort());
  });

  it('queues from awaiting_upload (upload seen) or running (release)', () => {
    expect(sourcesOf('queued').sort()).toEqual(['awaiting_upload', 'running'].sort());
  });

  it('succeeds only from running', () => {
    expect(sourcesOf('succeeded')).toEqual(['running']);
  });

  it('fails from queued or running', () => {
    expect(sourcesOf('failed').sort()).toEqual(['awaiting_upload', 'queued', 'running'].sort());
  });

  it('expires only from awaiting_upload', () => {
    expect(sourcesOf('expired')).toEqual(['awaiting_upload']);
  });

  it('cancels from every non-terminal state', () => {
    expect(sourcesOf('canceled').sort()).toEqual([...NON_TERMINAL].sort());
  });

  it('agrees between sourcesOf and the table for every pair', () => {
    for (const to of JOB_STATUSES) {
      for (const from of JOB_STATUSES) {
        expect(sourcesOf(to).includes(from), `${from} → ${to}`).toBe(TRANSITIONS[from].includes(to));
      }
    }
  });

  it('never names a terminal state as the source of a transition', () => {
    for (const to of JOB_STATUSES) {
      for (const from of sourcesOf(to)) expect(isTerminal(from), `${from} → ${to}`).toBe(false);
    }
  });
});
