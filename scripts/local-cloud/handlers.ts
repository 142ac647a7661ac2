import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** Lambda handlers by module path, and the invocation context the local cloud gives them. */

const REPOSITORY_ROOT = new URL('../../', import.meta.url);

/** The `handler` export of a module named by its path from the repository root. */
export async function importHandler<H>(modulePath: string): Promise<H> {
  const module = (await import(new URL(modulePath, REPOSITORY_ROOT).href)) as { handler?: H };
  if (typeof module.handler !== 'function') throw new Error(`${modulePath} exports no handler function`);
  return module.handler;
}

export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '2048',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
