import type { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Powertools Tracer on the SDK clients: on Lambda with active tracing each SDK call becomes an
 * X-Ray subsegment. Loaded only there: the X-Ray SDK enables async hooks with destroy tracking for
 * the whole process as it loads (cls-hooked), which costs every promise (measured: ~1 ms of CPU per
 * image in the local cloud), and outside Lambda there is no daemon to send segments to.
 */
const onLambda = process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined && process.env.POWERTOOLS_TRACE_ENABLED !== 'false';

const tracer: Tracer | undefined = onLambda
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'inference-pipeline' })
  : undefined;

/** The client, with its calls traced where tracing runs. */
export function traced<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}
