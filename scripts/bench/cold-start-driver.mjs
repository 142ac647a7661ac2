// Runs in a fresh `node` process (plain JavaScript: no loader in the way): imports a function
// bundle as Lambda would, then calls its handler with each event, timing every step, and prints
// the timings as JSON. Usage: node cold-start-driver.mjs <bundle.mjs> <events.json>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// Time since the process started: Node's own boot, before any of our code.
const bootMs = performance.now();
const [bundlePath, eventsPath] = process.argv.slice(2);
const events = JSON.parse(readFileSync(eventsPath, 'utf8'));

const importStart = performance.now();
const { handler } = await import(pathToFileURL(bundlePath).href);
const initMs = performance.now() - importStart;

function context() {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'cold-start',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:cold-start',
    memoryLimitInMB: '2048',
    awsRequestId: `cold-${Date.now()}`,
    logGroupName: '/aws/lambda/cold-start',
    logStreamName: 'cold-start',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const invocations = [];
for (const event of events) {
  const start = performance.now();
  const reply = await handler(event, context());
  invocations.push({
    ms: performance.now() - start,
    // The worker answers batchItemFailures; the API a status code.
    ok: reply?.statusCode ? reply.statusCode < 300 : (reply?.batchItemFailures ?? []).length === 0,
    status: reply?.statusCode,
  });
}
process.stdout.write(JSON.stringify({ bootMs, initMs, invocations }));
// SDK keep-alive sockets would hold the process open.
process.exit(0);
