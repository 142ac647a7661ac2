import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_RESOURCES, localQueues } from '../../scripts/local-cloud/cloud.ts';
import { startTestCloud, type TestCloud } from '../helpers/local-cloud.ts';

/**
 * The local cloud as AWS tools see it: one edge port for S3, DynamoDB and SQS (the AWS CLI with
 * only --endpoint-url), endpoints.json, API Gateway's own 404, and DynamoDB TTL.
 */

const run = promisify(execFile);
let t: TestCloud;

beforeAll(async () => {
  t = await startTestCloud({ ttlSweepMs: 100 });
});
afterAll(() => t?.stop());

async function aws(...args: string[]): Promise<unknown> {
  const { stdout } = await run('aws', ['--endpoint-url', t.cloud.endpoints.edge, '--output', 'json', ...args], {
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: LOCAL_RESOURCES.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_RESOURCES.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: LOCAL_RESOURCES.region,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
    timeout: 60_000,
  });
  return stdout.trim() === '' ? undefined : (JSON.parse(stdout) as unknown);
}

describe('the edge port', () => {
  it('serves S3, DynamoDB and SQS to the AWS CLI on one endpoint', async () => {
    const buckets = (await aws('s3api', 'list-buckets')) as { Buckets: { Name: string }[] };
    expect(buckets.Buckets.map((b) => b.Name)).toContain(LOCAL_RESOURCES.bucket);
    const { stdout: listing } = await run('aws', ['--endpoint-url', t.cloud.endpoints.edge, 's3', 'ls'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: LOCAL_RESOURCES.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_RESOURCES.credentials.secretAccessKey, AWS_DEFAULT_REGION: LOCAL_RESOURCES.region },
    });
    expect(listing).toContain(LOCAL_RESOURCES.bucket);
    const tables = (await aws('dynamodb', 'list-tables')) as { TableNames: string[] };
    expect(tables.TableNames).toEqual([LOCAL_RESOURCES.table]);
    const queues = (await aws('sqs', 'list-queues')) as { QueueUrls: string[] };
    // Every queue of the local cloud's table (jobs, its DLQ, webhook deliveries, …), by the URLs it serves them at.
    expect(queues.QueueUrls.map((url) => url.split('/').pop()).sort()).toEqual(localQueues({}).map((q) => q.name).sort());
    expect(queues.QueueUrls).toContain(t.cloud.endpoints.queueUrl);
    expect(new URL(t.cloud.endpoints.queueUrl).origin).toBe(t.cloud.endpoints.edge);
  }, 120_000);

  it('publishes every endpoint and the fixed local credentials in endpoints.json', () => {
    const written = JSON.parse(readFileSync(join(t.stateDir, 'endpoints.json'), 'utf8')) as typeof t.cloud.endpoints;
    expect(written).toEqual(t.cloud.endpoints);
    expect(written.credentials).toEqual(LOCAL_RESOURCES.credentials);
    expect([written.s3, written.sqs, written.dynamodb]).toEqual([written.edge, written.edge, written.edge]);
  });

  it('hands out upload URLs on the edge port', async () => {
    const job = await t.client.createJob({ contentType: 'image/png', contentLength: 10 });
    expect(new URL(job.upload.url).origin).toBe(t.cloud.endpoints.edge);
  });
});

describe('the HTTP API gateway', () => {
  it.each([
    ['GET', '/v1/nothing-here'],
    ['PUT', '/v1/jobs'],
    ['GET', '/v1/jobs/a/b'],
  ])('answers %s %s, a route the API does not have, with API Gateway’s 404', async (method, path) => {
    const response = await fetch(`${t.cloud.endpoints.apiUrl}${path}`, { method, headers: { 'x-api-key': t.cloud.endpoints.apiKey } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
  });

  it('still routes the paths it has', async () => {
    const response = await fetch(`${t.cloud.endpoints.apiUrl}/v1/health`);
    expect(response.status).toBe(200);
  });
});

describe('DynamoDB Time to Live', () => {
  it('deletes items whose expiresAt has passed and keeps the rest', async () => {
    const dynamo = new DynamoDBClient({ region: LOCAL_RESOURCES.region, endpoint: t.cloud.endpoints.dynamodb, credentials: LOCAL_RESOURCES.credentials });
    const now = Math.floor(Date.now() / 1000);
    const put = (pk: string, expiresAt: number) =>
      dynamo.send(new PutItemCommand({ TableName: LOCAL_RESOURCES.table, Item: { pk: { S: pk }, expiresAt: { N: String(expiresAt) } } }));
    const exists = async (pk: string) =>
      (await dynamo.send(new GetItemCommand({ TableName: LOCAL_RESOURCES.table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item !== undefined;
    await put('ttl-test#expired', now - 60);
    await put('ttl-test#alive', now + 3600);

    // The periodic sweep (every 100 ms here; a minute by default) removes it.
    const deadline = Date.now() + 20_000;
    while ((await exists('ttl-test#expired')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await exists('ttl-test#expired')).toBe(false);
    expect(await exists('ttl-test#alive')).toBe(true);
    dynamo.destroy();
  });
});
