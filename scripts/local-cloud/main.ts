import { parseArgs } from 'node:util';
import { type LocalCloud, startLocalCloud } from './cloud.ts';

/** `npm start`: the whole pipeline on this machine, until Ctrl-C. */

const { values } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    'state-dir': { type: 'string', default: '.local' },
  },
});

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got ${process.env.PORT}`);
  process.exit(2);
}
process.env.POWERTOOLS_SERVICE_NAME ??= 'inference-pipeline-local';

let cloud: LocalCloud;
try {
  cloud = await startLocalCloud({ apiPort: port, fresh: values.fresh, stateDir: values['state-dir'] });
} catch (error) {
  const message = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `port ${port} is in use; set PORT to another one` : String(error);
  console.error(`local cloud failed to start: ${message}`);
  process.exit(1);
}

const { apiUrl, apiKey } = cloud.endpoints;
console.log(`
Local inference pipeline is running.

  API        ${apiUrl}
  API key    ${apiKey}
  S3         ${cloud.endpoints.s3}   SQS ${cloud.endpoints.sqs}   DynamoDB ${cloud.endpoints.dynamodb}
  State      ${values['state-dir']}/ (endpoints.json has all of the above)

Try it:  npm run submit -- path/to/photo.jpg
Ctrl-C stops it; jobs and results persist.
`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) process.exit(130);
  stopping = true;
  console.log(`\n${signal}: stopping (finishing running jobs)…`);
  await cloud.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
