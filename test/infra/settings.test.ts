import { readFile } from 'node:fs/promises';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { parseSettings, SETTING_KEYS, settingsFromContext, unknownContextKeys } from '../../infra/settings.ts';

describe('deployment settings (CDK context)', () => {
  it('defaults to a dev stage that deletes its data with the stack', () => {
    const settings = parseSettings({});
    expect(settings).toMatchObject({
      stage: 'dev',
      stackName: 'AsyncInference-dev',
      architecture: 'arm64',
      allowedOrigins: ['*'],
      maxReceiveCount: 5,
      workerTimeoutSeconds: 120,
      jobRetentionDays: 30,
      resultExpirationDays: 30,
      uploadExpirationDays: 7,
      logRetentionDays: 7,
      retainData: false,
    });
  });

  it('gives prod longer log retention, more capacity, and retained data', () => {
    const settings = parseSettings({ stage: 'prod' });
    expect(settings).toMatchObject({
      stage: 'prod',
      stackName: 'AsyncInference-prod',
      logRetentionDays: 90,
      workerMaxConcurrency: 50,
      apiThrottleRateLimit: 200,
      retainData: true,
    });
  });

  it('accepts -c strings as well as cdk.json JSON values', () => {
    const settings = parseSettings({ maxReceiveCount: '3', workerBatchingWindowSeconds: '0', architecture: 'x86_64' });
    expect(settings.maxReceiveCount).toBe(3);
    expect(settings.workerBatchingWindowSeconds).toBe(0);
    expect(settings.architecture).toBe('x86_64');
  });

  it('reads allowed origins as a JSON array, a JSON-array string or comma-separated text', () => {
    const origins = ['https://a.example', 'https://b.example'];
    expect(parseSettings({ allowedOrigins: origins }).allowedOrigins).toEqual(origins);
    expect(parseSettings({ allowedOrigins: JSON.stringify(origins) }).allowedOrigins).toEqual(origins);
    expect(parseSettings({ allowedOrigins: 'https://a.example, https://b.example' }).allowedOrigins).toEqual(origins);
  });

  it('keeps results as long as jobs unless told otherwise', () => {
    expect(parseSettings({ jobRetentionDays: 10 }).resultExpirationDays).toBe(10);
    expect(parseSettings({ jobRetentionDays: 10, resultExpirationDays: 3 }).resultExpirationDays).toBe(3);
  });

  it('refuses bad values, naming the context key', () => {
    expect(() => parseSettings({ stage: 'staging' })).toThrow(/context stage/);
    expect(() => parseSettings({ maxReceiveCount: 0 })).toThrow(/context maxReceiveCount/);
    expect(() => parseSettings({ workerTimeoutSeconds: 901 })).toThrow(/context workerTimeoutSeconds/);
    expect(() => parseSettings({ workerMaxConcurrency: 1 })).toThrow(/context workerMaxConcurrency/);
    expect(() => parseSettings({ logRetentionDays: 10 })).toThrow(/context logRetentionDays/);
    expect(() => parseSettings({ alarmEmail: 'not-an-address' })).toThrow(/context alarmEmail/);
    expect(() => parseSettings({ architecture: 'arm' })).toThrow(/context architecture/);
  });

  it('needs an e-mail for a budget', () => {
    expect(() => parseSettings({ budgetMonthlyUsd: 25 })).toThrow(/budgetEmail/);
    expect(parseSettings({ budgetMonthlyUsd: '25', budgetEmail: 'ops@example.com' }).budgetMonthlyUsd).toBe(25);
  });

  it('reads its keys from the construct tree and reports look-alike unknown ones', () => {
    const app = new App({
      context: { stage: 'prod', maxReceiveCuont: '3', '@aws-cdk/core:someFlag': true, 'aws:cdk:bundling-stacks': [] },
    });
    expect(settingsFromContext(app.node).stage).toBe('prod');
    expect(unknownContextKeys(app.node)).toEqual(['maxReceiveCuont']);
  });

  it('documents every key in docs/deploy.md', async () => {
    const readme = await readFile(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
    for (const key of SETTING_KEYS) expect(readme, key).toContain(`\`${key}\``);
  });
});
