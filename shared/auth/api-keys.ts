import { createHash, randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, ScanCommand, } from '@aws-sdk/lib-dynamodb';
import { documentClient, updateIf } from '../aws.ts';
import { getConfig } from '../config.ts';
import type { Plan } from './plans.ts';

/**
 * API keys. Only a SHA-256 hash of each key is stored (`pk = apikey#<hash>`), with the owner it
 * authenticates and, optionally, its plan (else the configured default); the key itself is shown
 * once, when created. Owners see only their own jobs.
 */

export interface ApiKeyRecord {
  keyHash: string;
  /** The first characters of the key, to tell keys apart in listings. */
  keyPrefix: string;
  ownerId: string;
  name: string;
  createdAt: string;
  revokedAt?: string;
  /** Limits of this key; absent: the deployment's default plan (shared/config.ts PLAN_*). */
  plan?: Plan;
}

/** What a valid key stands for. */
export interface KeyGrant {
  ownerId: string;
  keyHash: string;
  plan?: Plan;
}

export const API_KEY_PREFIX = 'aip_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(24).toString('base64url');
}

const keyItem = (keyHash: string) => ({ pk: `apikey#${keyHash}` });

/** Store a key for an owner; returns the key, which is not stored and cannot be shown again. */
export async function createApiKey(
  ownerId: string,
  name: string,
  key = generateApiKey(),
  plan?: Plan,
): Promise<{ key: string; record: ApiKeyRecord }> {
  const record: ApiKeyRecord = {
    keyHash: hashApiKey(key),
    keyPrefix: key.slice(0, API_KEY_PREFIX.length + 6),
    ownerId,
    name,
    createdAt: new Date().toISOString(),
    ...(plan ? { plan } : {}),
  };
  await documentClient().send(
    new PutCommand({
      TableName: getConfig().TABLE_NAME,
      Item: { ...keyItem(record.keyHash), type: 'apikey', ...record },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return { key, record };
}

/** What a key grants, or undefined for an unknown or revoked key. */
export async function findKeyGrant(key: string): Promise<KeyGrant | undefined> {
  const keyHash = hashApiKey(key);
  const { Item } = await documentClient().send(new GetCommand({ TableName: getConfig().TABLE_NAME, Key: keyItem(keyHash) }));
  if (!Item || Item.revokedAt) return undefined;
  return { ownerId: Item.ownerId as string, keyHash, ...(Item.plan ? { plan: Item.plan as Plan } : {}) };
}

/** The owner a key authenticates, or undefined for an unknown or revoked key. */
export async function findKeyOwner(key: string): Promise<string | undefined> {
  return (await findKeyGrant(key))?.ownerId;
}

/** Set a key's plan (by hash); false if there is no such key. Takes effect within the authorizer's cache time. */
export async function updateApiKeyPlan(keyHash: string, plan: Plan): Promise<boolean> {
  return updateIf({
    Key: keyItem(keyHash),
    UpdateExpression: 'SET #plan = :plan',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#plan': 'plan' },
    ExpressionAttributeValues: { ':plan': plan },
  });
}

export async function listApiKeys(ownerId?: string): Promise<ApiKeyRecord[]> {
  const records: ApiKeyRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new ScanCommand({
        TableName: getConfig().TABLE_NAME,
        FilterExpression: ownerId ? '#type = :type AND ownerId = :owner' : '#type = :type',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': 'apikey', ...(ownerId ? { ':owner': ownerId } : {}) },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const { pk: _pk, type: _type, ...record } = item;
      records.push(record as ApiKeyRecord);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Revoke by key hash; returns false if there is no such key. */
export async function revokeApiKey(keyHash: string): Promise<boolean> {
  return updateIf({
    Key: keyItem(keyHash),
    UpdateExpression: 'SET revokedAt = :now',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':now': new Date().toISOString() },
  });
}
