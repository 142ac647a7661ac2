import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_TOKEN_TTL_SECONDS, mintDevToken } from './local-cloud/dev-tokens.ts';

/**
 * `npm run token -- --sub alice [--scope jobs:write]… [--ttl SECONDS] [--state-dir .local]`
 *
 * Prints a JWT the local cloud accepts (`Authorization: Bearer <token>`), signed with the local
 * issuer's key from the state folder, as a Cognito user pool would sign a user's token.
 */

const usage = 'usage: npm run token -- --sub ID [--scope SCOPE]… [--ttl SECONDS] [--state-dir DIR]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      sub: { type: 'string' },
      scope: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      'state-dir': { type: 'string', default: '.local' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help || !values.sub) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
const ttlSeconds = Number(values.ttl ?? DEV_TOKEN_TTL_SECONDS);
if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
  console.error(`--ttl must be a whole number of seconds\n${usage}`);
  process.exit(2);
}
const stateDir = values['state-dir'];
if (!existsSync(join(stateDir, 'endpoints.json'))) {
  console.error('no local cloud found (.local/endpoints.json): run `npm start` first');
  process.exit(2);
}
console.log(await mintDevToken(stateDir, { sub: values.sub, scopes: values.scope ?? [], ttlSeconds }));
