import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type LocalCloud, startLocalCloud } from './cloud.ts';
import { EDGE_DEFAULT_PORT } from './edge.ts';
import { issuesLine } from '#shared/validation.ts';

/** `npm start`: the whole pipeline on this machine, until Ctrl-C. */

/** The API's port unless PORT says otherwise. */
const API_DEFAULT_PORT = 3000;
/**
 * A second SIGINT this soon after the first is the same Ctrl-C delivered twice (npm and tsx both
 * forward it to this process), not a request to quit now.
 */
export const REPEATED_SIGNAL_GRACE_MS = 1_000;

const port = z.coerce.number().int().min(0).max(65_535);
/** The stack's allowedOrigins setting, as a JSON array or comma-separated. */
const originList = z
  .string()
  .trim()
  .transform((text) => (text.startsWith('[') ? (JSON.parse(text) as unknown) : text.split(',').map((o) => o.trim()).filter(Boolean)))
  .pipe(z.array(z.string().min(1)).min(1));

const environment = z.object({
  PORT: port.default(API_DEFAULT_PORT),
  EDGE_PORT: port.default(EDGE_DEFAULT_PORT),
  ALLOWED_ORIGINS: originList.default(['*']),
});

const { values } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    'state-dir': { type: 'string', default: '.local' },
  },
});

const settings = environment.safeParse(process.env);
if (!settings.success) {
  console.error(`local cloud: ${issuesLine(settings.error)}`);
  process.exit(2);
}
const { PORT: apiPort, EDGE_PORT: edgePort, ALLOWED_ORIGINS: allowedOrigins } = settings.data;
process.env.POWERTOOLS_SERVICE_NAME ??= 'inference-pipeline-local';

let cloud: LocalCloud;
try {
  cloud = await startLocalCloud({ apiPort, edgePort, allowedOrigins, fresh: values.fresh, stateDir: values['state-dir'] });
} catch (error) {
  const message =
    (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? `${(error as Error).message}; set PORT (API, ${apiPort}) or EDGE_PORT (S3/DynamoDB/SQS, ${edgePort}) to a free port`
      : String(error);
  console.error(`local cloud failed to start: ${message}`);
  process.exit(1);
}

const { apiUrl, apiKey, edge, credentials } = cloud.endpoints;
console.log(`
Local inference pipeline is running.

  API        ${apiUrl}
  API key    ${apiKey}
  AWS        ${edge}   (S3, DynamoDB, SQS: AWS_ENDPOINT_URL=${edge})
             access key ${credentials.accessKeyId}, secret ${credentials.secretAccessKey}, region ${cloud.endpoints.region}
  CORS       ${allowedOrigins.join(', ')}
  State      ${values['state-dir']}/ (endpoints.json has all of the above)

Try it:  npm run submit -- path/to/photo.jpg
Ctrl-C stops it after the running jobs; jobs and results persist.
`);

let firstSignalAt: number | undefined;
async function shutdown(signal: string) {
  const now = Date.now();
  if (firstSignalAt !== undefined) {
    if (now - firstSignalAt < REPEATED_SIGNAL_GRACE_MS) return;
    console.log(`\n${signal} again: quitting without finishing`);
    process.exit(130);
  }
  firstSignalAt = now;
  console.log(`\n${signal}: stopping (finishing running jobs; Ctrl-C again to quit at once)…`);
  await cloud.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
