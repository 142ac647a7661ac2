import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../aws.ts';
import { getConfig } from '../config.ts';
import type { WebhookSubscription } from './events.ts';
import { generateWebhookSecret } from './signing.ts';

/**
 * An owner's webhook settings, one item per owner (`pk = owner#<ownerId>`): signing secrets (the
 * current one, and the previous one for a day after a rotation, so receivers can switch over), the
 * default webhook the keys CLI sets, and URLs that answered 410 Gone (never called again).
 */

/** How long the previous secret still signs after a rotation. */
export const PREVIOUS_SECRET_VALID_SECONDS = 24 * 3600;

interface StoredSecret {
  secret: string;
  createdAt: string;
  /** Set on the previous secret when a newer one replaced it. */
  expiresAt?: string;
}

export interface OwnerSettings {
  ownerId: string;
  secrets: StoredSecret[];
  defaultWebhook?: WebhookSubscription;
  disabledUrls?: string[];
}

const ownerKey = (ownerId: string) => ({ pk: `owner#${ownerId}` });
const table = () => getConfig().TABLE_NAME;

export async function getOwnerSettings(ownerId: string): Promise<OwnerSettings> {
  const { Item } = await documentClient().send(new GetCommand({ TableName: table(), Key: ownerKey(ownerId), ConsistentRead: true }));
  return { ownerId, secrets: (Item?.secrets as StoredSecret[] | undefined) ?? [], ...(Item?.defaultWebhook ? { defaultWebhook: Item.defaultWebhook } : {}), ...(Item?.disabledUrls ? { disabledUrls: Item.disabledUrls } : {}) };
}

/** The secrets that sign now, newest first (a rotated-out one until it expires). */
export function activeSecrets(settings: OwnerSettings, now = Date.now()): string[] {
  return settings.secrets.filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now).map((s) => s.secret);
}

/** The owner's current secret, made on first use (a conditional write: two first uses agree). */
export async function ensureSecret(ownerId: string, now = Date.now()): Promise<OwnerSettings> {
  const settings = await getOwnerSettings(ownerId);
  if (settings.secrets.length > 0) return settings;
  const { Attributes } = await documentClient().send(
    new UpdateCommand({
      TableName: table(),
      Key: ownerKey(ownerId),
      UpdateExpression: 'SET secrets = if_not_exists(secrets, :secrets)',
      ExpressionAttributeValues: { ':secrets': [{ secret: generateWebhookSecret(), createdAt: new Date(now).toISOString() }] },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return { ...settings, secrets: Attributes!.secrets as StoredSecret[] };
}

/** A new current secret; the one it replaces keeps signing for PREVIOUS_SECRET_VALID_SECONDS. */
export async function rotateSecret(ownerId: string, now = Date.now()): Promise<OwnerSettings> {
  const current = (await ensureSecret(ownerId, now)).secrets[0]!;
  const secrets: StoredSecret[] = [
    { secret: generateWebhookSecret(), createdAt: new Date(now).toISOString() },
    { ...current, expiresAt: new Date(now + PREVIOUS_SECRET_VALID_SECONDS * 1000).toISOString() },
  ];
  // Conditional on the secret it replaces, so two concurrent rotations do not lose one another's result silently.
  const { Attributes } = await documentClient().send(
    new UpdateCommand({
      TableName: table(),
      Key: ownerKey(ownerId),
      UpdateExpression: 'SET secrets = :secrets',
      ConditionExpression: 'secrets[0].secret = :current',
      ExpressionAttributeValues: { ':secrets': secrets, ':current': current.secret },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return { ownerId, secrets: Attributes!.secrets as StoredSecret[] };
}

/** How long a process trusts an owner's default webhook it has read (the keys CLI's change shows within this). */
export const DEFAULT_WEBHOOK_CACHE_MS = 30_000;
const defaults = new Map<string, { webhook: WebhookSubscription | undefined; until: number }>();

/** The owner's default webhook, for jobs created without one (cached briefly: one read per owner, not per job). */
export async function defaultWebhookOf(ownerId: string, now = Date.now()): Promise<WebhookSubscription | undefined> {
  const hit = defaults.get(ownerId);
  if (hit && hit.until > now) return hit.webhook;
  const { defaultWebhook } = await getOwnerSettings(ownerId);
  defaults.set(ownerId, { webhook: defaultWebhook, until: now + DEFAULT_WEBHOOK_CACHE_MS });
  if (defaults.size > 10_000) defaults.delete(defaults.keys().next().value!);
  return defaultWebhook;
}

/** The keys CLI's per-owner default webhook (undefined clears it). */
export async function setDefaultWebhook(ownerId: string, webhook: WebhookSubscription | undefined): Promise<void> {
  await documentClient().send(
    new UpdateCommand({
      TableName: table(),
      Key: ownerKey(ownerId),
      ...(webhook
        ? { UpdateExpression: 'SET defaultWebhook = :webhook', ExpressionAttributeValues: { ':webhook': webhook } }
        : { UpdateExpression: 'REMOVE defaultWebhook' }),
    }),
  );
}

/** Never call this URL again for this owner (it answered 410 Gone), or call it again (enabled: true). */
export async function setUrlDisabled(ownerId: string, url: string, disabled: boolean): Promise<void> {
  const settings = await getOwnerSettings(ownerId);
  const urls = new Set(settings.disabledUrls ?? []);
  if (disabled) urls.add(url);
  else urls.delete(url);
  await documentClient().send(
    new UpdateCommand({
      TableName: table(),
      Key: ownerKey(ownerId),
      UpdateExpression: 'SET disabledUrls = :urls',
      ExpressionAttributeValues: { ':urls': [...urls].sort() },
    }),
  );
}
