import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { issuesLine } from '#shared/validation.ts';

/**
 * `npm run keys -- create --owner ID [--name TEXT] [--rate N --burst N --quota N/day|N/month]` | `list [--owner ID]`
 * | `update KEY_PREFIX_OR_HASH [--rate N] [--burst N] [--quota N/day|N/month]` | `revoke KEY_PREFIX_OR_HASH`
 * | `webhook --owner ID --url URL [--events …] | --clear` (the owner's default webhook, for jobs created without one)
 *
 * Manages API keys where the API looks them up: the jobs table. By default the running local
 * cloud's table (.local/endpoints.json); with `--table NAME [--region R]` a deployed stack's, using
 * your AWS credentials as the AWS CLI would. Keys are stored hashed: a new key is shown once.
 * A plan left out takes the deployment's defaults (PLAN_* settings); `update` changes only what it names.
 */

const usage = `usage:
  npm run keys -- create --owner ID [--name TEXT] [--rate N --burst N --quota N/day|N/month] [--table NAME --region R]
  npm run keys -- list [--owner ID] [--table NAME --region R]
  npm run keys -- update KEY_PREFIX_OR_HASH [--rate N] [--burst N] [--quota N/day|N/month] [--table NAME --region R]
  npm run keys -- revoke KEY_PREFIX_OR_HASH [--table NAME --region R]
  npm run keys -- webhook --owner ID (--url URL [--events job.succeeded,job.failed,…] | --clear) [--table NAME --region R]`;

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      owner: { type: 'string' },
      name: { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      quota: { type: 'string' },
      url: { type: 'string' },
      events: { type: 'string' },
      clear: { type: 'boolean', default: false },
      table: { type: 'string' },
      region: { type: 'string' },
      'state-dir': { type: 'string', default: '.local' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
const [command, argument] = positionals;
if (values.help || !command || !['create', 'list', 'update', 'revoke', 'webhook'].includes(command)) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}

if (values.table) {
  process.env.TABLE_NAME = values.table;
  if (values.region) process.env.AWS_REGION = values.region;
} else {
  let local: { table: string; dynamodb: string; region: string };
  try {
    local = JSON.parse(readFileSync(`${values['state-dir']}/endpoints.json`, 'utf8'));
  } catch {
    console.error('no local cloud found (.local/endpoints.json): run `npm start` first, or pass --table NAME for a deployed stack');
    process.exit(2);
  }
  const { LOCAL_RESOURCES } = await import('./local-cloud/cloud.ts');
  Object.assign(process.env, {
    TABLE_NAME: local.table,
    AWS_REGION: local.region,
    AWS_ENDPOINT_URL_DYNAMODB: local.dynamodb,
    AWS_ACCESS_KEY_ID: LOCAL_RESOURCES.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_RESOURCES.credentials.secretAccessKey,
  });
}
// The config reader needs a bucket name; key management does not use it.
process.env.BUCKET_NAME ??= 'unused-by-keys';

const { createApiKey, generateApiKey, listApiKeys, revokeApiKey, updateApiKeyPlan } = await import('#shared/auth/api-keys.ts');
const { defaultPlan, describePlan, parseQuota } = await import('#shared/auth/plans.ts');
type Plan = import('#shared/auth/plans.ts').Plan;

function positive(name: string, text: string, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be a positive ${integer ? 'whole ' : ''}number, not ${text}`);
  }
  return value;
}

/** The plan the flags describe over `base`, or undefined when no flag names one. */
function planFromFlags(base: Plan): Plan | undefined {
  if (values.rate === undefined && values.burst === undefined && values.quota === undefined) return undefined;
  return {
    ...base,
    ...(values.rate === undefined ? {} : { rate: positive('rate', values.rate, false) }),
    ...(values.burst === undefined ? {} : { burst: positive('burst', values.burst, true) }),
    ...(values.quota === undefined ? {} : parseQuota(values.quota)),
  };
}

async function findOne(prefixOrHash: string | undefined, verb: string) {
  if (!prefixOrHash) throw new Error(`${verb} needs a key prefix (as listed) or hash`);
  const candidates = (await listApiKeys()).filter(
    (k) => k.keyHash === prefixOrHash || k.keyPrefix === prefixOrHash.replace(/…$/, ''),
  );
  if (candidates.length !== 1) {
    throw new Error(candidates.length === 0 ? `no key matches ${prefixOrHash}` : `${candidates.length} keys match ${prefixOrHash}; use the hash`);
  }
  return candidates[0]!;
}

try {
  if (command === 'create') {
    if (!values.owner) throw new Error('create needs --owner ID');
    const plan = planFromFlags(defaultPlan());
    const { key, record } = await createApiKey(values.owner, values.name ?? `key for ${values.owner}`, generateApiKey(), plan);
    console.error(`created a key for owner ${record.ownerId}, ${plan ? describePlan(plan) : 'default plan'} (shown once; store it now):`);
    console.log(key);
  } else if (command === 'list') {
    const keys = await listApiKeys(values.owner);
    for (const k of keys) {
      const state = k.revokedAt ? `revoked ${k.revokedAt}` : 'active';
      console.log([k.keyPrefix + '…', k.ownerId, k.name, k.createdAt, state, k.plan ? describePlan(k.plan) : 'default plan', k.keyHash].join('\t'));
    }
    if (keys.length === 0) console.error('no keys');
  } else if (command === 'webhook') {
    if (!values.owner) throw new Error('webhook needs --owner ID');
    const { setDefaultWebhook } = await import('#shared/webhooks/owners.ts');
    if (values.clear) {
      await setDefaultWebhook(values.owner, undefined);
      console.error(`owner ${values.owner} has no default webhook now`);
    } else {
      if (!values.url) throw new Error('webhook needs --url URL (or --clear)');
      const { subscriptionOf, WebhookRequest } = await import('#shared/webhooks/events.ts');
      const request = WebhookRequest.safeParse({ url: values.url, ...(values.events ? { events: values.events.split(',').map((e) => e.trim()) } : {}) });
      if (!request.success) throw new Error(issuesLine(request.error));
      const subscription = subscriptionOf(request.data);
      await setDefaultWebhook(values.owner, subscription);
      console.error(`owner ${values.owner}: jobs created without a webhook now send ${subscription.events.join(', ')} to ${subscription.url} (within 30 s: the API's cache)`);
    }
  } else if (command === 'update') {
    const found = await findOne(argument, 'update');
    const plan = planFromFlags(found.plan ?? defaultPlan());
    if (!plan) throw new Error('update needs --rate, --burst or --quota');
    await updateApiKeyPlan(found.keyHash, plan);
    console.error(`${found.keyPrefix}… of ${found.ownerId} now has ${describePlan(plan)} (takes effect within a minute: authorizer cache)`);
  } else {
    const found = await findOne(argument, 'revoke');
    await revokeApiKey(found.keyHash);
    console.error(`revoked ${found.keyPrefix}… of ${found.ownerId} (takes effect within a minute: authorizer cache)`);
  }
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
