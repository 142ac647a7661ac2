import type { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { acknowledgements, allFindings, synthesize, unacknowledgedFindings } from './synth.ts';

/**
 * cdk-nag AwsSolutions: no finding may go unacknowledged, every acknowledgement gives a reason,
 * and none is stale (each still matches a finding on its construct), in both stage shapes.
 */

const apps: Record<string, App> = {};

beforeAll(() => {
  apps.dev = synthesize().app;
  apps.prod = synthesize({
    stage: 'prod',
    architecture: 'x86_64',
    alarmEmail: 'oncall@example.com',
    budgetMonthlyUsd: 50,
    budgetEmail: 'billing@example.com',
    geminiSecretName: 'inference/gemini-api-key',
  }).app;
}, 60_000);

describe.each(['dev', 'prod'])('cdk-nag AwsSolutionsChecks (%s)', (stage) => {
  it('reports no unacknowledged finding', () => {
    expect(unacknowledgedFindings(apps[stage]!)).toEqual([]);
  });

  it('gives every acknowledgement a real reason', () => {
    const acks = acknowledgements(apps[stage]!);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) expect(ack.reason.length, `${ack.path} ${ack.rule}`).toBeGreaterThan(40);
  });

  it('has no stale acknowledgement: each matches a finding on its construct', () => {
    const findings = allFindings(apps[stage]!);
    for (const ack of acknowledgements(apps[stage]!)) {
      const matched = findings.some(
        (f) => f.rule === ack.rule && f.paths.some((p) => p === ack.path || p.startsWith(`${ack.path}/`)),
      );
      expect(matched, `${ack.rule} on ${ack.path}`).toBe(true);
    }
  });
});
