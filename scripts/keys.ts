import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * `npm run keys -- create --owner ID [--name TEXT]` | `list [--owner ID]` | `revoke KEY_PREFIX_OR_HASH`
 *
 * Manages API keys where the API looks them up: the jobs table. By default the running local
 * cloud's table (.local/endpoints.json); with `--table NAME [--region R]` a deployed stack's, using
 * your AWS credentials as the AWS CLI would. Keys are stored hashed: a new key is shown once.
 */

const usage = `usage:
  npm run keys -- create --owner ID [--name TEXT] [--table NAME --region R]
  npm run keys -- list [--owner ID] [--table NAME --region R]
  npm run keys -- revoke KEY_PREFIX_OR_HASH [--table NAME --region R]`;

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      owner: { type: 'string' },
      name: { type: 'string' },
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
if (values.help || !command || !['create', 'list', 'revoke'].includes(command)) {
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

const { createApiKey, listApiKeys, revokeApiKey } = await import('#shared/auth/api-keys.ts');

try {
  if (command === 'create') {
    if (!values.owner) throw new Error('create needs --owner ID');
    const { key, record } = await createApiKey(values.owner, values.name ?? `key for ${values.owner}`);
    console.error(`created a key for owner ${record.ownerId} (shown once; store it now):`);
    console.log(key);
  } else if (command === 'list') {
    const keys = await listApiKeys(values.owner);
    for (const k of keys) {
      console.log([k.keyPrefix + '…', k.ownerId, k.name, k.createdAt, k.revokedAt ? `revoked ${k.revokedAt}` : 'active', k.keyHash].join('\t'));
    }
    if (keys.length === 0) console.error('no keys');
  } else {
    if (!argument) throw new Error('revoke needs a key prefix (as listed) or hash');
    const candidates = (await listApiKeys()).filter(
      (k) => k.keyHash === argument || k.keyPrefix === argument.replace(/…$/, ''),
    );
    if (candidates.length !== 1) {
      throw new Error(candidates.length === 0 ? `no key matches ${argument}` : `${candidates.length} keys match ${argument}; use the hash`);
    }
    await revokeApiKey(candidates[0]!.keyHash);
    console.error(`revoked ${candidates[0]!.keyPrefix}… of ${candidates[0]!.ownerId} (takes effect within a minute: authorizer cache)`);
  }
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
